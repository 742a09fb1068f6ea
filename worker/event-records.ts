import type { IDBPObjectStore, StoreNames } from 'idb';
import type { StoredEvent } from '../core/event-store.ts';
import { TallyError } from '../core/errors.ts';
import type { TallyDB } from './idb-schema.ts';

/**
 * How events are stored (docs/architecture.md, "Events in batches"). Every record the `events`
 * store is written from version 9 on is a **batch**: events written together (an append's, a
 * receive's, a history's below a base), at most `BATCH_EVENTS` of them, in position order, keyed
 * by its last event's position and indexed by `byVersions` (multi-entry and unique: one
 * [stream, version] entry per event it holds, so a version written twice aborts the transaction
 * that writes it). A click's append is a batch of one. Stores written before version 9 also hold
 * records of one event each, keyed by its position and indexed by `byStream`; nothing rewrites
 * them, and every reader reads both.
 *
 * A record costs the disk far more than an index entry: 250 events as one record with 250 index
 * entries commit about four times as fast as 250 records with theirs (measured in a bare worker
 * on disk). The cost is paid on reading a stream whose events were written in a burst among other
 * streams' (its batches are read whole), which loads bound by snapshots (a tail of at most
 * `snapshotEvery` events).
 *
 * Every reader and writer goes through this module; no other knows a batch.
 */
export type EventBatch = {
  /** Its last event's position. */
  readonly position: number;
  /** Stored events (each with its position, stream and version), in position order. */
  readonly events: readonly StoredEventRecord[];
  /** Each event's [stream, version], for the `byVersions` index. */
  readonly versions: readonly (readonly [string, number])[];
};

/** At most this many events in one record: a reader of one stream reads its batches whole. */
const BATCH_EVENTS = 250;

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

/**
 * The records `events` (each with its position, all above every position stored) are written
 * as: batches of at most `BATCH_EVENTS`, in position order, the last keyed by the last position.
 */
export function recordsOf(events: readonly StoredEventRecord[]): EventBatch[] {
  // The index cannot see a version twice within one record (a multi-entry index keeps an entry
  // once): checked here, as the index checks it across records.
  const seen = new Set<string>();
  for (const { stream, version } of events) {
    const key = `${version}\u0000${stream}`;
    if (seen.has(key))
      throw new TallyError('conflict', `${stream} version ${version} is written twice at once.`);
    seen.add(key);
  }
  const sorted = [...events].sort((a, b) => a.position - b.position);
  const records: EventBatch[] = [];
  for (let i = 0; i < sorted.length; i += BATCH_EVENTS) {
    const part = sorted.slice(i, i + BATCH_EVENTS);
    records.push({ position: part.at(-1)!.position, events: part, versions: versionsOf(part) });
  }
  return records;
}

const versionsOf = (events: readonly unknown[]) =>
  events.flatMap((event) => {
    const { stream, version } = (isObject(event) ? event : {}) as Partial<StoredEventRecord>;
    return typeof stream === 'string' && typeof version === 'number'
      ? [[stream, version] as const]
      : [];
  });

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

const isBatch = (record: unknown): record is EventBatch =>
  typeof record === 'object' &&
  record !== null &&
  'events' in record &&
  !('stream' in record) &&
  !('version' in record);

/**
 * The events a record holds, in position order. A batch whose list is damaged, or holds an entry
 * that is not an event's record, throws, named; `lenient`, such a list holds nothing and such
 * entries are left out (each event is checked further as it is decoded, by its reader).
 */
export function eventsOf(
  record: unknown,
  { lenient = false }: { readonly lenient?: boolean } = {},
): readonly StoredEventRecord[] {
  if (!isBatch(record)) return [record as StoredEventRecord];
  if (Array.isArray(record.events)) {
    const events: readonly unknown[] = record.events;
    if (events.every(isObject)) return record.events;
    if (lenient) return events.filter(isObject) as StoredEventRecord[];
    throw new TallyError(
      'invalid',
      `The stored batch of events at position ${String(record.position)} is damaged: an entry is not an event.`,
    );
  }
  if (lenient) return [];
  throw new TallyError(
    'invalid',
    `The stored batch of events at position ${String(record.position)} is damaged: it holds no list.`,
  );
}

const inStream = (stream: string, from: number, to: number) => (event: unknown) => {
  const { stream: s, version } = (event ?? {}) as { stream?: unknown; version?: unknown };
  return s === stream && typeof version === 'number' && version >= from && version <= to;
};

const byVersion = (a: StoredEventRecord, b: StoredEventRecord) => a.version - b.version;

const versionRange = (stream: string, from: number, to: number) =>
  IDBKeyRange.bound([stream, from], [stream, to]);

/**
 * The stored events of `stream` from version `from` to `to`, in version order, at most `limit`:
 * what a range of the `byStream` index gave when each event was a record. `lenient`: a damaged
 * batch holds nothing (`eventsOf`).
 */
export async function streamEvents(
  store: EventsStore,
  stream: string,
  from = 1,
  to = LAST_VERSION,
  limit?: number,
  options: { readonly lenient?: boolean } = {},
): Promise<readonly StoredEventRecord[]> {
  const range = versionRange(stream, from, to);
  const [alone, keys] = await Promise.all([
    store.index('byStream').getAll(range, limit),
    store.index('byVersions').getAllKeys(range, limit),
  ]);
  const distinct = new Set(keys);
  // Each batch holding one of these events (a counter counted click by click): the index's
  // records are those batches once each, in one request. Otherwise each batch is read once.
  const batches: unknown[] =
    distinct.size === keys.length
      ? keys.length === 0
        ? []
        : await store.index('byVersions').getAll(range, limit)
      : await Promise.all([...distinct].map((key) => store.get(key)));
  const held = batches.flatMap((batch) =>
    batch === undefined ? [] : eventsOf(batch, options).filter(inStream(stream, from, to)),
  );
  const all = alone.length === 0 ? held : [...(alone as StoredEventRecord[]), ...held];
  all.sort(byVersion);
  return limit === undefined ? all : all.slice(0, limit);
}

/**
 * `streamEvents` for several ranges at once (at most one per stream): each batch is read once
 * however many of the streams it holds, and its events sorted by stream once (a space joined
 * after a burst offline reads every counter's history in one go, its batches shared by up to
 * 250 counters each).
 */
export async function rangesEvents(
  store: EventsStore,
  ranges: readonly (readonly [stream: string, from: number, to: number])[],
): Promise<(readonly StoredEventRecord[])[]> {
  const reads = await Promise.all(
    ranges.map(([stream, from, to]) => {
      const range = versionRange(stream, from, to);
      return Promise.all([
        store.index('byStream').getAll(range),
        store.index('byVersions').getAllKeys(range),
      ]);
    }),
  );
  const keys = [...new Set(reads.flatMap(([, found]) => found))];
  const records = await Promise.all(keys.map((key) => store.get(key)));
  const held = new Map<number, Map<unknown, StoredEventRecord[]>>();
  keys.forEach((key, i) => {
    const record = records[i];
    if (record === undefined) return;
    const streams = new Map<unknown, StoredEventRecord[]>();
    for (const event of eventsOf(record)) {
      const list = streams.get(event.stream);
      if (list) list.push(event);
      else streams.set(event.stream, [event]);
    }
    held.set(key, streams);
  });
  return ranges.map(([stream, from, to], i) => {
    const [alone, found] = reads[i]!;
    const all = [...(alone as StoredEventRecord[])];
    for (const key of new Set(found))
      all.push(...(held.get(key)?.get(stream) ?? []).filter(inStream(stream, from, to)));
    return all.sort(byVersion);
  });
}

/** The stored event of `stream` at `version`, if any: both indexes asked at once, one round trip. */
export async function eventAt(
  store: EventsStore,
  stream: string,
  version: number,
): Promise<StoredEventRecord | undefined> {
  const [alone, batch] = await Promise.all([
    store.index('byStream').get([stream, version]),
    store.index('byVersions').get([stream, version]),
  ]);
  if (alone !== undefined) return alone as StoredEventRecord;
  return batch === undefined ? undefined : eventsOf(batch).find(inStream(stream, version, version));
}

/** The newest `window` stored events of `stream`, in version order. */
export async function streamTail(
  store: EventsStore,
  stream: string,
  window: number,
): Promise<readonly StoredEventRecord[]> {
  const range = versionRange(stream, 1, LAST_VERSION);
  const [alone, batch] = await Promise.all([
    store.index('byStream').openKeyCursor(range, 'prev'),
    store.index('byVersions').openKeyCursor(range, 'prev'),
  ]);
  const newest = Math.max(versionOf(alone?.key), versionOf(batch?.key));
  if (newest === 0) return [];
  return streamEvents(store, stream, Math.max(1, newest - window + 1));
}

const versionOf = (key: unknown): number =>
  Array.isArray(key) && typeof key[1] === 'number' ? key[1] : 0;

/**
 * The stored events after `position`, in position order: `limit` of them, or all there are.
 * Records are read a few at a time, as many as the last ones suggest are needed (a record may
 * hold one event or `BATCH_EVENTS`), at most twice as many as the read before, so a page never
 * reads much past its `limit`. Each event's position must lie within its record's (above the
 * record before, at most its key): a batch's first events may be at or before `position`, and
 * are skipped; one outside, damaged, throws, named, or `lenient` is left out with a damaged
 * batch (a start's fold skips them, as it skips a damaged event).
 */
export async function eventsAfter(
  store: EventsStore,
  position: number,
  limit: number,
  options: { readonly lenient?: boolean } = {},
): Promise<readonly StoredEventRecord[]> {
  const events: StoredEventRecord[] = [];
  if (!(limit > 0)) return events;
  let want = Math.ceil(limit / BATCH_EVENTS);
  for (let after = position; ;) {
    const records = await store.getAll(IDBKeyRange.lowerBound(after, true), want);
    let held = 0;
    // The record before the first read is not known: its events may be at or before `position`.
    let below = after === position ? 0 : after;
    for (const record of records) {
      const key = record.position;
      for (const event of eventsOf(record, options)) {
        held++;
        const at: unknown = (event as { position?: unknown }).position;
        if (!(Number.isSafeInteger(at) && (at as number) > below && (at as number) <= key)) {
          if (options.lenient) continue;
          throw new TallyError(
            'invalid',
            `The stored batch of events at position ${key} is damaged: an event's position is outside it.`,
          );
        }
        if ((at as number) <= position) continue;
        events.push(event);
        if (events.length === limit) return events;
      }
      below = key;
    }
    const last = records.at(-1);
    if (records.length < want || !last) return events;
    after = last.position;
    const perRecord = Math.max(1, held / records.length);
    want = Math.max(1, Math.min(Math.ceil((limit - events.length) / perRecord), want * 2));
  }
}

const positionsIn = (positions: Iterable<number>) =>
  new Set([...positions].filter((position) => Number.isSafeInteger(position) && position > 0));

/**
 * Takes the events `gone` picks out of the record keyed `key`: a batch is written again without
 * them, under its key (so the store's position is kept), or goes once it holds none; a record of
 * one goes. A batch whose list is damaged is left as it is, and so is a damaged entry in a list
 * (never written over).
 */
async function takeOut(
  store: EventsStore<'readwrite'>,
  key: number,
  gone: (event: StoredEventRecord) => boolean,
  strict: boolean,
): Promise<number> {
  const record: unknown = await store.get(key);
  if (record === undefined) return 0;
  if (!isBatch(record)) {
    if (!gone(record as StoredEventRecord)) return 0;
    await store.delete(key);
    return 1;
  }
  if (!Array.isArray(record.events)) {
    if (strict) eventsOf(record);
    return 0;
  }
  const events: readonly unknown[] = record.events;
  const kept = events.filter(
    (event) => !(isObject(event) && gone(event as StoredEventRecord)),
  ) as StoredEventRecord[];
  if (kept.length === events.length) return 0;
  if (kept.length === 0) await store.delete(key);
  else await store.put({ position: key, events: kept, versions: versionsOf(kept) });
  return events.length - kept.length;
}

/** Deletes the stored events at `positions` (a rebase's pending events). */
export async function removeEvents(
  store: EventsStore<'readwrite'>,
  positions: Iterable<number>,
): Promise<void> {
  const gone = positionsIn(positions);
  // The record holding a position is the first keyed at or after it.
  const keys = await Promise.all(
    [...gone].map((position) => store.getKey(IDBKeyRange.lowerBound(position))),
  );
  // Each record once (they are distinct, so taken out side by side). A damaged batch is named:
  // its versions would stay in the index, and the rebase's events, which take them again, could
  // never be written.
  await Promise.all(
    [...new Set(keys)].flatMap((key) =>
      key === undefined ? [] : [takeOut(store, key, (event) => gone.has(event.position), true)],
    ),
  );
}

/**
 * Deletes every stored event of `stream`, found by the indexes, whatever each event holds (a
 * damaged one goes too): what deleting forever removes. A batch whose list is damaged is left as
 * it is (its versions stay taken). Answers how many events went.
 */
export async function removeStream(
  store: EventsStore<'readwrite'>,
  stream: string,
): Promise<number> {
  const range = versionRange(stream, Number.MIN_SAFE_INTEGER, LAST_VERSION);
  const [alone, keys] = await Promise.all([
    store.index('byStream').getAllKeys(range),
    store.index('byVersions').getAllKeys(range),
  ]);
  const taken = await Promise.all([
    ...alone.map((key) => store.delete(key).then(() => 1)),
    ...[...new Set(keys)].map((key) =>
      takeOut(store, key, (event) => (event as { stream?: unknown }).stream === stream, false),
    ),
  ]);
  return taken.reduce((sum, n) => sum + n, 0);
}

/** Every stored event, in stream and version order (a backup's). */
export async function allEventsByStream(store: EventsStore): Promise<readonly StoredEventRecord[]> {
  const records = await store.getAll();
  return records
    .flatMap((record) => eventsOf(record))
    .sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.version - b.version));
}
