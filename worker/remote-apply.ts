import { checkOutboxRow, checkStreamHead } from './stored-records.ts';
import { NO_STREAM, type EventEnvelope, type StreamId } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import type {
  AnyEvent,
  PendingCommand,
  Rebaser,
  RemoteOutcome,
  StoredEvent,
} from '../core/event-store.ts';
import type { Projection } from '../core/projection.ts';
import type { IDBPTransaction, StoreNames } from 'idb';
import type { OutboxRow, TallyDB, TallyDatabase } from './idb-schema.ts';

export type RemoteApplyContext<E extends AnyEvent> = {
  readonly db: TallyDatabase;
  readonly decode: (record: unknown) => StoredEvent<E>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  readonly projections: readonly Projection<any, E>[];
};

const allVersions = (stream: StreamId, from: number, to = Number.MAX_SAFE_INTEGER) =>
  IDBKeyRange.bound([stream, from], [stream, to]);

/** The server's copy of a stream is not ours below our confirmed head: never guessed over. */
export class DivergedError extends TallyError {
  constructor(
    readonly stream: StreamId,
    version: number,
  ) {
    super(
      'conflict',
      `The server's ${stream} differs from this device's at confirmed version ${version}.`,
    );
  }
}

const diverged = (stream: StreamId, version: number) => new DivergedError(stream, version);

/**
 * The server's events for one stream, applied in ONE IndexedDB transaction (DESIGN.md §4):
 * - an event at or below the confirmed head is already here (checked by id) and skipped, so a
 *   re-delivered page changes nothing;
 * - an event whose id is this device's next pending event is an echo of its own push (the
 *   answer was lost, or the feed was faster): the confirmed head moves, nothing is rewritten;
 * - foreign events are appended as confirmed; if a pending suffix is in their way, its events
 *   are removed and its commands re-decided by `rebase` on top, their new events written as
 *   pending, rejected commands recorded, the stream's read-model rows rebuilt from its events
 *   and its snapshot dropped.
 * A crash at any point leaves either the old stream or the new one, never a mix.
 */
export async function applyRemote<E extends AnyEvent>(
  context: RemoteApplyContext<E>,
  stream: StreamId,
  remote: readonly EventEnvelope<E>[],
  rebase: Rebaser<E>,
  recheck: boolean,
): Promise<{ outcome: RemoteOutcome<E>; written: StoredEvent<E>[] }> {
  const { db, decode, projections } = context;
  // Strict like appends: confirming and rebasing must be on disk before anything follows them.
  const tx = db.transaction(
    ['events', 'streams', 'snapshots', 'views', 'meta', 'outbox', 'rejections'],
    'readwrite',
    { durability: 'strict' },
  );
  const events = tx.objectStore('events');
  const byStream = events.index('byStream');
  const ops: Promise<unknown>[] = [];
  const finish = async <T>(value: T): Promise<T> => {
    await Promise.all([...ops, tx.done]);
    return value;
  };
  try {
    const stored = await tx.objectStore('streams').get(stream);
    const head = stored === undefined ? undefined : checkStreamHead(stored);
    const version = head?.version ?? NO_STREAM;
    const startConfirmed = head?.confirmed ?? NO_STREAM;
    let confirmed = startConfirmed;
    const tail = (await byStream.getAll(allVersions(stream, confirmed + 1))).map(decode);
    let echoes = 0;
    const foreign: EventEnvelope<E>[] = [];
    for (const event of remote) {
      if (event.stream !== stream)
        throw new TallyError('invalid', `An event of ${event.stream} came for ${stream}.`);
      if (foreign.length > 0) {
        if (event.version !== confirmed + foreign.length + 1)
          return finish({ outcome: { type: 'gap', confirmed: startConfirmed }, written: [] });
        foreign.push(event);
      } else if (event.version <= confirmed) {
        const stored = await byStream.get([stream, event.version]);
        if (!stored || stored.id !== event.id) throw diverged(stream, event.version);
      } else if (event.version !== confirmed + 1) {
        // Not the next one: something was missed. Never guess; the caller catches up.
        return finish({ outcome: { type: 'gap', confirmed: startConfirmed }, written: [] });
      } else if (tail[echoes]?.id === event.id) {
        echoes++;
        confirmed++;
      } else foreign.push(event);
    }
    const pendingEvents = tail.slice(echoes);
    // A command of ours can come back under other event ids: a re-check rewrote its pending
    // events while the push carrying the old ones was in flight. The server's events are then
    // that command's outcome: it must not be re-run on top of them, nor stay "rejected".
    const foreignCommands = new Set(foreign.map((event) => event.meta.command));
    if (foreignCommands.size > 0) {
      const rejected = await tx.objectStore('rejections').getAllKeys();
      for (const commandId of rejected)
        if (foreignCommands.has(commandId))
          ops.push(tx.objectStore('rejections').delete(commandId));
    }
    const rows = (await tx.objectStore('outbox').index('byStream').getAll(stream))
      .map(checkOutboxRow)
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    const live: OutboxRow[] = [];
    for (const row of rows) {
      const done = row.events.filter((e) => e.version <= confirmed).length;
      // The server accepts a stream's push whole, and pushes carry whole commands.
      if (done > 0 && done < row.events.length)
        throw new TallyError('invalid', `Command ${row.commandId} was confirmed only in part.`);
      if (done > 0 || row.events.length === 0) ops.push(tx.objectStore('outbox').delete(row.seq!));
      else live.push(row);
    }
    const moved = confirmed !== startConfirmed;

    if (foreign.length === 0 && !(recheck && pendingEvents.length > 0)) {
      if (moved) ops.push(tx.objectStore('streams').put({ stream, version, confirmed }));
      return finish({
        outcome: {
          type: 'applied',
          confirmed,
          version,
          appended: [],
          rebased: false,
          rejected: [],
        },
        written: [],
      });
    }

    const headRecord = await tx.objectStore('meta').get('head');
    let position = headRecord?.key === 'head' ? headRecord.position : 0;
    const place = (event: EventEnvelope<E>): StoredEvent<E> => ({ ...event, position: ++position });

    if (pendingEvents.length === 0) {
      // Nothing of ours in the way: the foreign events simply extend the stream.
      const stored = foreign.map(place);
      for (const event of stored) ops.push(events.add(event as StoredEvent));
      await projectOnto(tx, projections, stored, ops, false);
      const last = stored.at(-1)!.version;
      ops.push(tx.objectStore('streams').put({ stream, version: last, confirmed: last }));
      ops.push(tx.objectStore('meta').put({ key: 'head', position }));
      return finish({
        outcome: {
          type: 'applied',
          confirmed: last,
          version: last,
          appended: stored,
          rebased: false,
          rejected: [],
        },
        written: stored,
      });
    }

    // The rebase. Reading the whole confirmed stream is O(N), and rebases are rare.
    const confirmedEvents =
      confirmed === NO_STREAM
        ? []
        : (await byStream.getAll(allVersions(stream, 1, confirmed))).map(decode);
    const byId = new Map(pendingEvents.map((event) => [event.id, event]));
    const pending: PendingCommand<E>[] = live.map((row) => ({
      commandId: row.commandId,
      commands: row.commands,
      events: row.events.map(({ id }) => {
        const event = byId.get(id);
        if (!event) throw new TallyError('invalid', `Command ${row.commandId} lost its events.`);
        byId.delete(id);
        return event;
      }),
    }));
    if (byId.size > 0)
      throw new TallyError('invalid', `Stream ${stream} holds pending events of no command.`);
    const plan = rebase({
      confirmed: [...confirmedEvents, ...foreign],
      pending: pending.filter((command) => !foreignCommands.has(command.commandId)),
    });

    for (const event of pendingEvents) ops.push(events.delete(event.position));
    const seqOf = new Map(live.map((row) => [row.commandId, row.seq]));
    for (const row of live) ops.push(tx.objectStore('outbox').delete(row.seq!));
    const storedForeign = foreign.map(place);
    const storedPending: StoredEvent<E>[] = [];
    // Deletes go first: a new pending event may take a version an old one had.
    await Promise.all(ops.splice(0));
    for (const event of storedForeign) ops.push(events.add(event as StoredEvent));
    for (const command of plan.pending) {
      const stored = command.events.map(place);
      storedPending.push(...stored);
      for (const event of stored) ops.push(events.add(event as StoredEvent));
      const seq = seqOf.get(command.commandId);
      ops.push(
        tx.objectStore('outbox').put({
          ...(seq === undefined ? {} : { seq }),
          commandId: command.commandId,
          stream,
          commands: command.commands,
          events: stored.map(({ id, version: v }) => ({ id, version: v })),
        }),
      );
    }
    for (const rejection of plan.rejected) ops.push(tx.objectStore('rejections').put(rejection));
    const newConfirmed = confirmed + foreign.length;
    const newVersion = storedPending.at(-1)?.version ?? newConfirmed;
    ops.push(
      tx.objectStore('streams').put({ stream, version: newVersion, confirmed: newConfirmed }),
    );
    // A snapshot may describe a rewritten version; the next load replays instead.
    ops.push(tx.objectStore('snapshots').delete(stream));
    ops.push(tx.objectStore('meta').put({ key: 'head', position }));
    const before = [...confirmedEvents, ...pendingEvents];
    await rebuildRows(
      tx,
      projections,
      before,
      [...confirmedEvents, ...storedForeign, ...storedPending],
      ops,
    );
    return finish({
      outcome: {
        type: 'applied',
        confirmed: newConfirmed,
        version: newVersion,
        appended: [],
        rebased: true,
        rejected: plan.rejected,
      },
      written: [],
    });
  } catch (error) {
    // Must write nothing: abort, and keep the transaction's own failure observed.
    try {
      tx.abort();
    } catch {
      // Already finished or aborted.
    }
    await tx.done.catch(() => undefined);
    await Promise.allSettled(ops);
    throw error;
  }
}

type Tx = IDBPTransaction<TallyDB, StoreNames<TallyDB>[], 'readwrite'>;
const viewKey = (view: string, key: string) => `${view}\u0000${key}`;

/** Applies events to the rows they touch, reading each row once. */
async function projectOnto<E extends AnyEvent>(
  tx: Tx,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  projections: readonly Projection<any, E>[],
  events: readonly StoredEvent<E>[],
  ops: Promise<unknown>[],
  fromScratch: boolean,
): Promise<void> {
  const views = tx.objectStore('views');
  const rows = new Map<string, { view: string; key: string; value: unknown }>();
  for (const event of events)
    for (const projection of projections) {
      const key = projection.key(event);
      if (key === undefined) continue;
      const k = viewKey(projection.view, key);
      let row = rows.get(k);
      if (!row) {
        const value = fromScratch ? undefined : (await views.get([projection.view, key]))?.value;
        rows.set(k, (row = { view: projection.view, key, value }));
      }
      row.value = projection.apply(row.value, event);
    }
  for (const { view, key, value } of rows.values())
    ops.push(value === undefined ? views.delete([view, key]) : views.put({ view, key, value }));
}

/**
 * Rebuilds a rebased stream's rows from its events. Rows are per stream in every projection
 * here (a row's key comes from one stream's events); a projection that folded several streams
 * into one row would need a full rebuild instead.
 */
async function rebuildRows<E extends AnyEvent>(
  tx: Tx,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  projections: readonly Projection<any, E>[],
  before: readonly EventEnvelope<E>[],
  after: readonly StoredEvent<E>[],
  ops: Promise<unknown>[],
): Promise<void> {
  const fresh = new Set<string>();
  for (const event of after)
    for (const projection of projections) {
      const key = projection.key(event);
      if (key !== undefined) fresh.add(viewKey(projection.view, key));
    }
  // Rows only the old events made (a create that was rejected) disappear.
  for (const event of before)
    for (const projection of projections) {
      const key = projection.key(event);
      if (key !== undefined && !fresh.has(viewKey(projection.view, key)))
        ops.push(tx.objectStore('views').delete([projection.view, key]));
    }
  await projectOnto(tx, projections, after, ops, true);
}
