import type { StreamId } from '../core/envelope.ts';
import { compareCursors } from '../core/feed-cursor.ts';

/** A stretch of one stream's versions the server may have lost: `from` exclusive, `to` inclusive. */
export type GiveBack = { readonly stream: StreamId; readonly from: number; readonly to: number };

type Acked = { readonly stream: StreamId; readonly version: number; readonly at: number };
type Seen = { readonly cursor: string; readonly stream: StreamId; readonly version: number };

/**
 * What this device has seen of its space's feed lately, to tell when the server lost events it
 * had acknowledged or delivered (docs/architecture.md, "Failover"). Redis acknowledges a write
 * before its replicas hold it; a failover then promotes a replica without the last writes. So:
 *
 * - every event a push got acked for is kept here until it comes back in the feed; one that has
 *   not after `verifyMs` of a live feed is given back (pushed again, same id and version: the
 *   server recognises a copy it holds and stores one it lost);
 * - every event the feed delivered is kept with its cursor for a while; when a catch-up says the
 *   feed no longer holds the device's cursor (it went back), what came after the point it went
 *   back to is given back.
 *
 * Memory only and bounded: a device reloaded in the seconds of a failover relies on the push
 * path's version check (a stream's next push finds the server behind and gives back the rest).
 */
export class FeedWitness {
  private readonly acked = new Map<string, Acked>();
  private readonly seen: Seen[] = [];
  private readonly seenIds = new Set<string>();

  constructor(
    private readonly options: { readonly verifyMs: number; readonly keep: number } = {
      verifyMs: 5_000,
      keep: 10_000,
    },
  ) {}

  /** The server accepted these events of a push. */
  ackedNow(events: readonly { id: string; stream: StreamId; version: number }[], now: number) {
    for (const { id, stream, version } of events)
      if (!this.seenIds.has(id)) this.acked.set(id, { stream, version, at: now });
  }

  /** The feed delivered these (in feed order). */
  delivered(entries: readonly { cursor: string; id: string; stream: StreamId; version: number }[]) {
    for (const { cursor, id, stream, version } of entries) {
      this.acked.delete(id);
      if (this.seenIds.has(id)) continue;
      this.seen.push({ cursor, stream, version });
      this.seenIds.add(id);
    }
    const excess = this.seen.length - this.options.keep;
    if (excess > 0) this.seen.splice(0, excess);
    if (this.seenIds.size > this.options.keep * 2) {
      // The ids are only for recognising echoes quickly: start over rather than grow.
      this.seenIds.clear();
    }
  }

  /** Acked events still unseen after `verifyMs` (the feed was live meanwhile): given back. */
  overdue(now: number): GiveBack[] {
    const late = [...this.acked.entries()].filter(
      ([, { at }]) => now - at >= this.options.verifyMs,
    );
    for (const [id] of late) this.acked.delete(id);
    return ranges(late.map(([, event]) => event));
  }

  /** Whether anything waits to be seen back. */
  waiting(): boolean {
    return this.acked.size > 0;
  }

  /**
   * The feed went back to `head`: it no longer holds this device's cursor, and `head` is the
   * newest entry it holds before it. What this device saw after it, and every acked event not
   * yet seen back, is given back; the rest of the record is forgotten.
   */
  wentBack(head: string): GiveBack[] {
    const after = this.seen.filter((entry) => compareCursors(entry.cursor, head) > 0);
    const lost = [...after, ...this.acked.values()];
    this.seen.length = 0;
    this.seenIds.clear();
    this.acked.clear();
    return ranges(lost);
  }

  /** The server holds this stretch again (a give-back was accepted). */
  restored({ stream, from, to }: GiveBack): void {
    for (const [id, event] of this.acked)
      if (event.stream === stream && event.version > from && event.version <= to)
        this.acked.delete(id);
  }
}

/** One stretch per stream, from its lowest version to its highest. */
function ranges(events: readonly { stream: StreamId; version: number }[]): GiveBack[] {
  const byStream = new Map<StreamId, { low: number; high: number }>();
  for (const { stream, version } of events) {
    const range = byStream.get(stream);
    if (!range) byStream.set(stream, { low: version, high: version });
    else {
      range.low = Math.min(range.low, version);
      range.high = Math.max(range.high, version);
    }
  }
  return [...byStream].map(([stream, { low, high }]) => ({ stream, from: low - 1, to: high }));
}
