import type { IDBPObjectStore, StoreNames } from 'idb';
import type { StoredEvent } from '../core/event-store.ts';
import { TallyError } from '../core/errors.ts';
import type { TallyDB } from './idb-schema.ts';

/**
 * How events are stored (docs/architecture.md, "Events in batches"). The `events` store holds
 * two kinds of record, both keyed by a position:
 *
 * - one event, keyed by its own position and indexed by `byStream` ([stream, version]): what
 *   every writer but the appends writes (a receive, history below a base, an import), and what
 *   an append of one event writes (a click);
 * - a **batch**: the events one append transaction wrote, several of them (a burst's group
 *   commit), in position order, keyed by its last event's position and indexed by `byVersions`
 *   (multi-entry and unique: one [stream, version] entry per event it holds).
 *
 * A record costs the disk far more than an index entry: 250 events as one record and 250 index
 * entries commit about four times as fast as 250 records with theirs (measured in a bare worker
 * on disk). The cost is paid on reading a stream whose events were written in a burst among other
 * streams' (its batches are read whole), which loads bound by snapshots (a tail of at most
 * `snapshotEvery` events).
 *
 * Every reader goes through this module; no other knows a batch.
 */
export type EventBatch = {
  /** Its last event's position. */
  readonly position: number;
  /** Stored events (each with its position, stream and version), in position order. */
  readonly events: readonly StoredEventRecord[];
  /** Each event's [stream, version], for the `byVersions` index. */
  readonly versions: readonly (readonly [string, number])[];
};

/** One stored event as written: the envelope with its position (and a command's first, the command). */
export type StoredEventRecord = StoredEvent & { readonly commands?: readonly unknown[] };

/** A record of the `events` store. */
export type EventsRecord = StoredEventRecord | EventBatch;

type EventsStore<Mode extends IDBTransactionMode = IDBTransactionMode> = IDBPObjectStore<
  TallyDB,
  ArrayLike<StoreNames<TallyDB>>,
  'events',
  Mode
>;

const LAST_VERSION = Number.MAX_SAFE_INTEGER;

/** The record an append of `events` (in position order, at least one) writes. */
export function recordOf(events: readonly StoredEventRecord[]): EventsRecord {
  if (events.length === 1) return events[0]!;
  return {
    position: events.at(-1)!.position,
    events,
    versions: events.map((event) => [event.stream, event.version] as const),
  };
}

const isBatch = (record: unknown): record is EventBatch =>
  typeof record === 'object' &&
  record !== null &&
  'events' in record &&
  !('stream' in record) &&
  !('version' in record);

/**
 * The events a record holds, in position order (checked to be a list; each event is checked as
 * it is decoded, by its reader).
 */
export function eventsOf(record: unknown): readonly StoredEventRecord[] {
  if (!isBatch(record)) return [record as StoredEventRecord];
  if (!Array.isArray(record.events))
    throw new TallyError('invalid', 'A stored batch of events is damaged: it holds no list.');
  return record.events;
}

const inStream = (stream: string, from: number, to: number) => (event: unknown) => {
  const { stream: s, version } = (event ?? {}) as { stream?: unknown; version?: unknown };
  return s === stream && typeof version === 'number' && version >= from && version <= to;
};

const byVersion = (a: StoredEventRecord, b: StoredEventRecord) => a.version - b.version;

/**
 * The stored events of `stream` from version `from` to `to`, in version order, at most `limit`:
 * what a range of the old `byStream` index gave.
 */
export async function streamEvents(
  store: EventsStore,
  stream: string,
  from = 1,
  to = LAST_VERSION,
  limit?: number,
): Promise<readonly StoredEventRecord[]> {
  const range = IDBKeyRange.bound([stream, from], [stream, to]);
  const [singles, keys] = await Promise.all([
    store.index('byStream').getAll(range, limit),
    store.index('byVersions').getAllKeys(range, limit),
  ]);
  if (keys.length === 0) return singles as StoredEventRecord[];
  const batches = await Promise.all([...new Set(keys)].map((key) => store.get(key)));
  const held = batches.flatMap((batch) =>
    batch === undefined ? [] : eventsOf(batch).filter(inStream(stream, from, to)),
  );
  const all = singles.length === 0 ? held : [...(singles as StoredEventRecord[]), ...held];
  all.sort(byVersion);
  return limit === undefined ? all : all.slice(0, limit);
}

/** The stored event of `stream` at `version`, if any. */
export async function eventAt(
  store: EventsStore,
  stream: string,
  version: number,
): Promise<StoredEventRecord | undefined> {
  const [single, batch] = await Promise.all([
    store.index('byStream').get([stream, version]),
    store.index('byVersions').get([stream, version]),
  ]);
  if (single !== undefined) return single as StoredEventRecord;
  return batch === undefined ? undefined : eventsOf(batch).find(inStream(stream, version, version));
}

/** The newest `window` stored events of `stream`, in version order. */
export async function streamTail(
  store: EventsStore,
  stream: string,
  window: number,
): Promise<readonly StoredEventRecord[]> {
  const range = IDBKeyRange.bound([stream, 1], [stream, LAST_VERSION]);
  const [single, batch] = await Promise.all([
    store.index('byStream').openKeyCursor(range, 'prev'),
    store.index('byVersions').openKeyCursor(range, 'prev'),
  ]);
  const newest = Math.max(versionOf(single?.key), versionOf(batch?.key));
  if (newest === 0) return [];
  return streamEvents(store, stream, Math.max(1, newest - window + 1));
}

const versionOf = (key: unknown): number =>
  Array.isArray(key) && typeof key[1] === 'number' ? key[1] : 0;

/** The stored events after `position`, in position order: `limit` of them, or all there are. */
export async function eventsAfter(
  store: EventsStore,
  position: number,
  limit: number,
): Promise<readonly StoredEventRecord[]> {
  const events: StoredEventRecord[] = [];
  for (let after = position; ;) {
    const want = limit - events.length;
    const records = await store.getAll(IDBKeyRange.lowerBound(after, true), want);
    for (const record of records)
      for (const event of eventsOf(record)) {
        // A batch's key is its last event's: its first may be at or before `position`.
        if (!(Number((event as { position?: unknown }).position) > position)) continue;
        events.push(event);
        if (events.length === limit) return events;
      }
    // Fewer records than asked for: none is left. Otherwise a batch held events before
    // `position` (only the first can), and the rest is read from after the last.
    const last = records.at(-1);
    if (records.length < want || !last) return events;
    after = last.position;
  }
}

/**
 * Deletes the stored events at `positions`: a single record goes, a batch is written again
 * without them (under its key, so the store's position is kept), or goes once it holds none.
 */
export async function removeEvents(
  store: EventsStore<'readwrite'>,
  positions: Iterable<number>,
): Promise<void> {
  const gone = new Set(positions);
  for (const position of [...gone].sort((a, b) => a - b)) {
    if (!gone.has(position)) continue;
    // The record holding `position` is the first keyed at or after it.
    const cursor = await store.openCursor(IDBKeyRange.lowerBound(position));
    if (!cursor) return;
    const record: unknown = cursor.value;
    if (!isBatch(record)) {
      if (cursor.primaryKey === position) await cursor.delete();
      gone.delete(position);
      continue;
    }
    const events = eventsOf(record);
    const kept = events.filter((event) => !gone.has(event.position));
    for (const event of events) gone.delete(event.position);
    gone.delete(position);
    if (kept.length === events.length) continue;
    if (kept.length === 0) await cursor.delete();
    else
      await cursor.update({
        position: record.position,
        events: kept,
        versions: kept.map((event) => [event.stream, event.version] as const),
      });
  }
}

/** The positions of every stored event of `stream`. */
export async function streamPositions(store: EventsStore, stream: string): Promise<number[]> {
  return (await streamEvents(store, stream)).map((event) => event.position);
}

/** Every stored event, in stream and version order (a backup's). */
export async function allEventsByStream(store: EventsStore): Promise<readonly StoredEventRecord[]> {
  const records = await store.getAll();
  return records
    .flatMap((record) => eventsOf(record))
    .sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.version - b.version));
}
