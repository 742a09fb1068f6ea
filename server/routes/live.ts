import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { TallyError } from '../../core/errors.ts';
import { limits, type FeedEntry, type LiveMessage } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import { clientIp } from '../client-ip.ts';
import { compareCursors } from '../cursor.ts';
import { TooManyRequests } from '../errors.ts';
import type { LiveFeed } from '../live-feed.ts';
import type { SyncStore } from '../redis-store.ts';
import type { Revocations } from '../revocations.ts';
import { parseCursor, wentBack } from './events.ts';

/** A client this far behind is cut off; it reconnects and catches up from Redis instead. */
const maxQueuedEntries = 10_000;
/** How soon a browser's EventSource reconnects after the stream ends. */
const retryMs = 2_000;

/**
 * `GET /api/spaces/:space/live?after=<cursor>` → `text/event-stream`. Each message's `id` is the
 * cursor of its last entry and its `data` a JSON array of `FeedEntry`, so a reconnecting
 * EventSource resumes with `Last-Event-ID` exactly where it stopped. `: ping` comments keep
 * proxies from closing a quiet stream. The token may come as `?token=`: EventSource cannot send
 * headers. The catch-up from `after` is at most one page (`limits.maxPullLimit` entries); when
 * more wait, the stream ends after it, and the client pulls or reconnects from there. When the
 * feed no longer holds the entry `after` names, the stream sends one `wentBack` event and ends
 * (docs/architecture.md, "Failover").
 *
 * Each open stream holds a lease in Redis (access-store.ts), at most `maxConnections` per space
 * across all instances (429 beyond). Renewing it also asks whether the device left meanwhile: its
 * stream then ends with an `error` event within a third of `leaseMs`.
 *
 * Fair shares of this instance: at most `maxPerDevice` open streams per device token and
 * `maxPerAddress` per client address, counted here (capacity is per instance), so one client
 * cannot take every feed an instance can serve; past either the request is refused with 429 and
 * `Retry-After`, before any stream is opened.
 */
export function liveRoute(options: {
  gate: SpaceGate;
  store: () => SyncStore;
  live: () => LiveFeed;
  heartbeatMs: number;
  maxConnections: number;
  leaseMs: number;
  maxPerDevice: number;
  maxPerAddress: number;
  onStream: (delta: 1 | -1) => void;
  /** Devices removed through this instance: their streams end at once. */
  revocations?: Revocations;
}) {
  const perDevice = new OpenCounts();
  const perAddress = new OpenCounts();
  // Lease ids are unique across instances without asking Redis for one.
  const instance = randomBytes(6).toString('base64url');
  let leases = 0;
  const { leaseMs } = options;

  return new Hono<AppEnv>().get(
    '/api/spaces/:space/live',
    requireSpaceToken(options.gate, { allowQueryToken: true }),
    async (c) => {
      const holder = { space: c.get('space'), device: c.get('device') };
      const { space } = holder;
      // Per the SSE spec a reconnecting EventSource sends Last-Event-ID; it wins over the URL's
      // `after`, which still names where the first connection started.
      // An empty Last-Event-ID means none.
      const after = parseCursor(c.req.header('Last-Event-ID') || c.req.query('after'));
      const store = options.store();
      const access = options.gate.access();
      const device = `${space} ${holder.device}`;
      const address = clientIp(c);
      if (perDevice.get(device) >= options.maxPerDevice)
        throw new TooManyRequests(
          `This device already has ${options.maxPerDevice} live connections here. Close a tab, then try again.`,
          retryAfterSeconds,
        );
      if (perAddress.get(address) >= options.maxPerAddress)
        throw new TooManyRequests(
          `Your address already has ${options.maxPerAddress} live connections here. Close some, then try again.`,
          retryAfterSeconds,
        );
      perDevice.add(device, 1);
      perAddress.add(address, 1);
      let counted = true;
      const uncount = () => {
        if (!counted) return;
        counted = false;
        perDevice.add(device, -1);
        perAddress.add(address, -1);
      };
      const lease = `${instance}.${++leases}`;
      const release = () => {
        uncount();
        void access.releaseLease(space, lease).catch(() => {});
      };
      try {
        await access.acquireLease(space, lease, options.maxConnections, leaseMs);
      } catch (error) {
        uncount();
        throw error;
      }
      const queue = new EntryQueue();
      let unsubscribe = () => {};
      let page: Awaited<ReturnType<SyncStore['readFeed']>>;
      let back: string | undefined;
      try {
        // Subscribe before the catch-up read: whatever the read misses, the subscription has.
        unsubscribe = await options.live().subscribe(space, {
          entries: (entries) => queue.push(entries),
          closed: (error) => queue.close(error),
        });
        // The first page is read before answering, so an unreachable Redis is a plain 503.
        [page, back] = await Promise.all([
          store.readFeed(space, after, limits.maxPullLimit),
          wentBack(store, space, after),
        ]);
      } catch (error) {
        unsubscribe();
        release();
        throw error;
      }
      options.onStream(1);

      return streamSSE(
        c,
        async (stream) => {
          let cursor = after;
          const send = async (entries: readonly FeedEntry[]) => {
            const fresh = entries.filter((entry) => compareCursors(entry.cursor, cursor) > 0);
            const last = fresh.at(-1);
            if (!last) return;
            cursor = last.cursor;
            const message: LiveMessage = fresh;
            await stream.writeSSE({ id: cursor, data: JSON.stringify(message) });
          };
          const heartbeat = setInterval(() => void stream.write(': ping\n\n'), options.heartbeatMs);
          let left = false;
          const renew = setInterval(() => {
            access.renewLease(holder, lease, leaseMs).then(
              (state) => {
                if (state !== 'revoked') return;
                left = true;
                queue.close();
              },
              // Redis is away: the stream goes on (its follower reconnects), and the lease is
              // renewed, or taken again, on a later tick.
              () => {},
            );
          }, leaseMs / 3);
          stream.onAbort(() => queue.close());
          const leave = () => {
            left = true;
            queue.close();
          };
          const unwatch = options.revocations?.watch(space, holder.device, leave) ?? (() => {});
          // A removal between this request's admission and the watch above was told to no one
          // here: the revoked set, read once now that the watch is in place, has it.
          void access.renewLease(holder, lease, leaseMs).then(
            (state) => state === 'revoked' && leave(),
            () => {},
          );
          try {
            await stream.write(`retry: ${retryMs}\n\n`);
            if (back !== undefined) {
              // The feed lost the entry the client follows from: it is told so (a
              // `wentBack` event, naming where the feed went back to), and the stream ends, so
              // that it catches up with `/events`, which says the same and where it gives back
              // what it saw since. An older client ignores the event and catches up all the same.
              await stream.writeSSE({ event: 'wentBack', data: back });
              return;
            }
            await send(page.entries);
            // The catch-up is one page, as one `/events` request is: a client further behind
            // than that pulls the rest page by page (each counted), or reconnects from the last
            // id it got. Streaming the whole feed on one request cost 222 MiB for a long space.
            if (page.more) return;
            for (let next = await queue.next(); next; next = await queue.next()) await send(next);
            if (queue.error) throw queue.error;
            if (left) throw new TallyError('unauthorized', 'This device left the space.');
          } finally {
            clearInterval(heartbeat);
            clearInterval(renew);
            unwatch();
            queue.close();
            unsubscribe();
            release();
            options.onStream(-1);
          }
        },
        // Without this handler streamSSE would print the error; with it, it sends the message as
        // `event: error` and ends the stream. Store failures are TallyErrors: a sentence.
        async () => {},
      );
    },
  );
}

/** How soon a client refused for its share may try again: streams end at any moment. */
const retryAfterSeconds = 10;

/** Open streams per key; a key at zero is dropped, so the map holds only what is open. */
class OpenCounts {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string, delta: 1 | -1): void {
    const next = this.get(key) + delta;
    if (next > 0) this.counts.set(key, next);
    else this.counts.delete(key);
  }
}

/** Entries waiting to be written to one client, in feed order. */
class EntryQueue {
  private batches: FeedEntry[][] = [];
  private size = 0;
  private closed = false;
  private wake = () => {};
  /** Why the feed stopped, when it was not the client or shutdown. */
  error: TallyError | undefined;

  push(entries: readonly FeedEntry[]): void {
    if (this.closed) return;
    this.size += entries.length;
    if (this.size > maxQueuedEntries) return this.close();
    this.batches.push([...entries]);
    this.wake();
  }

  close(error?: TallyError): void {
    if (!this.closed) this.error = error;
    this.closed = true;
    this.batches = [];
    this.wake();
  }

  /** The next entries, all that waited, or undefined once closed. */
  async next(): Promise<FeedEntry[] | undefined> {
    while (this.batches.length === 0 && !this.closed)
      await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.closed) return undefined;
    const entries = this.batches.flat();
    this.batches = [];
    this.size = 0;
    return entries;
  }
}
