import { checkCursor, checkOutboxRow, checkStreamHead, checkSyncConfig } from './stored-records.ts';
import type { EventEnvelope } from '../core/envelope.ts';
import type { AnyEvent, RejectedAfterSync, StoredEvent } from '../core/event-store.ts';
import { limits, type PushRequest } from '../core/protocol.ts';
import type { SyncConfig, TallyDatabase } from './idb-schema.ts';

type PushStream = PushRequest['streams'][number];

const envelope = <E extends AnyEvent>({
  position: _,
  ...event
}: StoredEvent<E>): EventEnvelope<E> => event as EventEnvelope<E>;

/**
 * The next push (DESIGN.md §4): per stream with pending commands, its confirmed head as
 * `expectedVersion` and the pending events, oldest streams first, within the protocol's limits.
 * Only whole commands go into a push, so the server never accepts half of one.
 */
export async function readPush<E extends AnyEvent>(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent<E>,
): Promise<PushStream[]> {
  const tx = db.transaction(['outbox', 'streams', 'events'], 'readonly');
  const rows = (await tx.objectStore('outbox').getAll()).map(checkOutboxRow);
  const byStream = new Map<string, typeof rows>();
  for (const row of rows) {
    let list = byStream.get(row.stream);
    if (!list) byStream.set(row.stream, (list = []));
    list.push(row);
  }
  const streams: PushStream[] = [];
  let budget: number = limits.maxEventsPerPush;
  for (const [stream, commands] of byStream) {
    if (streams.length >= limits.maxStreamsPerPush) break;
    const head = await tx.objectStore('streams').get(stream);
    const expectedVersion = head === undefined ? 0 : (checkStreamHead(head).confirmed ?? 0);
    const events: PushStream['events'] = [];
    for (const command of commands) {
      if (command.events.length > budget) break;
      const stored = await Promise.all(
        command.events.map(({ version }) =>
          tx.objectStore('events').index('byStream').get([stream, version]),
        ),
      );
      events.push(
        ...stored.map((record) => envelope(decode(record)) as PushStream['events'][number]),
      );
      budget -= command.events.length;
    }
    // Versions must follow the confirmed head; anything else waits for the next rebase.
    if (events.length > 0 && events.every((e, i) => e.version === expectedVersion + i + 1))
      streams.push({
        stream,
        expectedVersion,
        ...(await idAt(tx.objectStore('events').index('byStream'), stream, expectedVersion)),
        events,
      });
    if (budget === 0) break;
  }
  await tx.done;
  return streams;
}

export const pendingCount = (db: TallyDatabase): Promise<number> => db.count('outbox');

export async function readSyncConfig(db: TallyDatabase): Promise<SyncConfig | undefined> {
  const record = await db.get('meta', 'sync');
  return record === undefined ? undefined : checkSyncConfig(record);
}

export async function writeSyncConfig(db: TallyDatabase, config: SyncConfig): Promise<void> {
  await db.put('meta', { key: 'sync', ...config });
}

/** Forgets the space and its feed cursor; events, confirmed heads and the outbox stay. */
export async function clearSyncConfig(db: TallyDatabase): Promise<void> {
  const tx = db.transaction('meta', 'readwrite');
  await Promise.all([tx.store.delete('sync'), tx.store.delete('cursor'), tx.done]);
}

export async function readCursor(db: TallyDatabase, space: string): Promise<string> {
  const record = await db.get('meta', 'cursor');
  if (record === undefined) return '0';
  const stored = checkCursor(record);
  return stored.space === space ? stored.cursor : '0';
}

export async function writeCursor(db: TallyDatabase, space: string, cursor: string): Promise<void> {
  await db.put('meta', { key: 'cursor', space, cursor });
}

export async function readRejections(db: TallyDatabase): Promise<RejectedAfterSync[]> {
  return (await db.getAll('rejections')).sort((a, b) => a.at - b.at);
}

export async function dismissRejection(db: TallyDatabase, commandId: string): Promise<void> {
  await db.delete('rejections', commandId);
}

/**
 * The confirmed events of a stream after `from`, up to `to`, as pushes of at most the protocol's
 * limit: what a device sends back to a server that came back with fewer events than it had
 * already accepted (Redis restarted and lost its last second).
 */
export async function readRestore<E extends AnyEvent>(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent<E>,
  stream: string,
  from: number,
  to: number,
): Promise<PushStream[]> {
  const raw = await db.getAllFromIndex(
    'events',
    'byStream',
    IDBKeyRange.bound([stream, from + 1], [stream, to]),
  );
  const events = raw.map((record) => envelope(decode(record)) as PushStream['events'][number]);
  const first = await idAt(db.transaction('events').store.index('byStream'), stream, from);
  const pushes: PushStream[] = [];
  for (let i = 0; i < events.length; i += limits.maxEventsPerPush)
    pushes.push({
      stream,
      expectedVersion: from + i,
      // The server must hold our event at `from` (or the batch before this one).
      ...(i === 0 ? first : { expectedId: events[i - 1]!.id }),
      events: events.slice(i, i + limits.maxEventsPerPush),
    });
  return pushes;
}

/** `{ expectedId }`: this device's event id at `version`, so the server can tell a diverged copy. */
async function idAt(
  byStream: { get(key: [string, number]): Promise<unknown> },
  stream: string,
  version: number,
): Promise<{ expectedId?: string }> {
  if (version === 0) return {};
  const record = (await byStream.get([stream, version])) as { id?: unknown } | undefined;
  return typeof record?.id === 'string' ? { expectedId: record.id } : {};
}
