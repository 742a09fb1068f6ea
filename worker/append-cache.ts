import type { AppendPlan, AppendState } from '../core/append-plan.ts';
import { NO_STREAM, type StreamId } from '../core/envelope.ts';
import type { Commit } from '../core/event-store.ts';
import { rowKey, rowsTouched, type Projections, type RowRef } from '../core/projection.ts';

/** A stream as the store will hold it once every transaction created so far has committed. */
type KnownStream = {
  version: number;
  confirmed: number;
  /**
   * The rows fed by this stream whose value is known, flat: view, key, value, view, key, …
   * (`undefined`: known not to exist). A stream feeds a row or two, and ten thousand streams
   * are kept: a small array costs far less memory than a Map each.
   */
  readonly rows: unknown[];
  /** Every row fed by this stream is in `rows` (it had no events when it was read). */
  readonly complete: boolean;
};

const NOT_KNOWN = Symbol('not known');

/** The known value of a row (`undefined`: no row), or NOT_KNOWN. */
function rowOf(known: KnownStream, { view, key }: RowRef): unknown {
  const rows = known.rows;
  for (let i = 0; i < rows.length; i += 3)
    if (rows[i] === view && rows[i + 1] === key) return rows[i + 2];
  return known.complete ? undefined : NOT_KNOWN;
}

function setRow(known: KnownStream, { view, key }: RowRef, value: unknown): void {
  const rows = known.rows;
  for (let i = 0; i < rows.length; i += 3)
    if (rows[i] === view && rows[i + 1] === key) {
      rows[i + 2] = value;
      return;
    }
  rows.push(view, key, value);
}

/**
 * What the one writer knows about its own store without reading it (docs/architecture.md,
 * "The path of one command"): the heads and read-model rows it last wrote or read, the
 * store-wide position. The engine is the only writer (Web Lock), so what it wrote is what is
 * stored, provided every transaction it created commits: that is checked inside each
 * transaction (the last event of the one in flight before it is stored), and a failure empties
 * this cache. What others write is announced: the server's events (`forget`) make their stream and
 * the position unknown until read again.
 *
 * At most `limit` streams are kept, least recently used dropped: a dropped one is simply read
 * again by the next transaction that touches it.
 */
export class AppendCache {
  private readonly streams = new Map<StreamId, KnownStream>();
  /** The store-wide position of the newest event, once every transaction created commits. */
  position: number | undefined;
  /** Changes whenever something other than an append may move the position. */
  epoch = 0;

  constructor(private readonly limit: number) {}

  /** Everything is unknown again: a transaction failed, so what was assumed may not be stored. */
  clear(): void {
    this.streams.clear();
    this.position = undefined;
    this.epoch++;
  }

  /** Someone else is writing `stream` (the server's events): it and the position are unknown. */
  forget(stream: StreamId): void {
    this.streams.delete(stream);
    this.position = undefined;
    this.epoch++;
  }

  /**
   * The state a batch is decided on, when everything it touches is known; undefined otherwise
   * (the transaction must read first).
   */
  stateFor(commits: readonly Commit[], projections: Projections): AppendState | undefined {
    if (this.position === undefined) return undefined;
    const versions = new Map<StreamId, number>();
    const confirmed = new Map<StreamId, number>();
    const rows = new Map<string, unknown>();
    for (const commit of commits) {
      const known = this.streams.get(commit.stream);
      if (!known) return undefined;
      versions.set(commit.stream, known.version);
      confirmed.set(commit.stream, known.confirmed);
      for (const [k, ref] of rowsTouched(commit.events, projections.of)) {
        const value = rowOf(known, ref);
        if (value === NOT_KNOWN) return undefined;
        if (value !== undefined) rows.set(k, value);
      }
    }
    return { versions, confirmed, rows, damaged: new Map(), position: this.position };
  }

  /** The streams and rows of a batch that are not known, to be read in its transaction. */
  missing(commits: readonly Commit[], projections: Projections) {
    const streams = new Set<StreamId>();
    const rows = new Map<string, { readonly view: string; readonly key: string }>();
    for (const commit of commits) {
      const known = this.streams.get(commit.stream);
      if (!known) streams.add(commit.stream);
      for (const [k, ref] of rowsTouched(commit.events, projections.of))
        if (!known || rowOf(known, ref) === NOT_KNOWN) rows.set(k, ref);
    }
    return { streams, rows };
  }

  /** The raw records the cache knows for a batch, shaped as a read (for `checkRead`). */
  known(commits: readonly Commit[], projections: Projections) {
    const heads = new Map<StreamId, unknown>();
    const rows = new Map<string, unknown>();
    for (const commit of commits) {
      const known = this.streams.get(commit.stream);
      if (!known) continue;
      heads.set(commit.stream, {
        stream: commit.stream,
        version: known.version,
        confirmed: known.confirmed,
      });
      for (const [k, ref] of rowsTouched(commit.events, projections.of)) {
        const value = rowOf(known, ref);
        if (value !== NOT_KNOWN && value !== undefined) rows.set(k, value);
      }
    }
    return { heads, rows };
  }

  /**
   * Learns what a transaction was decided on (sound records only: a damaged one is read again
   * each time, so it keeps failing the commits that would write over it) and what it writes.
   */
  learn(
    commits: readonly Commit[],
    state: AppendState,
    plan: AppendPlan,
    projections: Projections,
  ) {
    // A row is fed by one stream's events only (core/projection.ts): the commit's.
    const owner = new Map<string, KnownStream>();
    for (const commit of commits) {
      if (state.damaged.has(`stream\u0000${commit.stream}`)) continue;
      const known = this.touch(commit.stream, state);
      for (const [k, ref] of rowsTouched(commit.events, projections.of)) {
        if (state.damaged.has(k)) continue;
        setRow(known, ref, state.rows.get(k));
        owner.set(k, known);
      }
    }
    for (const head of plan.heads) {
      const known = this.streams.get(head.stream);
      if (!known) continue;
      known.version = head.version;
      known.confirmed = head.confirmed ?? NO_STREAM;
    }
    for (const change of plan.rows) {
      const known = owner.get(rowKey(change));
      if (known) setRow(known, change, change.value);
    }
    this.position = plan.position;
    this.evict();
  }

  /**
   * What a load read of a stream no transaction in flight writes (its actor has nothing in
   * flight when it loads): its head, and whether it has no events yet (then it feeds no rows).
   */
  prime(stream: StreamId, version: number, confirmed: number): void {
    if (this.streams.has(stream)) return;
    this.streams.set(stream, {
      version,
      confirmed,
      rows: [],
      complete: version === NO_STREAM,
    });
    this.evict();
  }

  private touch(stream: StreamId, state: AppendState): KnownStream {
    let known = this.streams.get(stream);
    if (known) this.streams.delete(stream);
    else
      known = {
        version: state.versions.get(stream) ?? NO_STREAM,
        confirmed: state.confirmed.get(stream) ?? NO_STREAM,
        rows: [],
        complete: false,
      };
    this.streams.set(stream, known);
    return known;
  }

  private evict(): void {
    for (const stream of this.streams.keys()) {
      if (this.streams.size <= this.limit) break;
      this.streams.delete(stream);
    }
  }
}
