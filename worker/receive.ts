import { unwrap, type IDBPTransaction, type StoreNames } from 'idb';
import { NO_STREAM, type EventEnvelope, type StreamId } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import type {
  AnyEvent,
  CommitNotice,
  Rebaser,
  ReceiveOutcome,
  StoredEvent,
} from '../core/event-store.ts';
import type { StreamHead } from '../core/append-plan.ts';
import { rowKey, rowsTouched, type Projections } from '../core/projection.ts';
import {
  planExtend,
  planRebase,
  planReceive,
  type ReceivePlan,
  type ReceiveWrites,
  type StreamAtReceive,
} from '../core/receive-plan.ts';
import { commitNow, type TallyDB, type TallyDatabase } from './idb-schema.ts';
import { checkOutboxRow, checkStreamHead } from './stored-records.ts';
import { readStoredPosition } from '../browser/stored-reads.ts';
import { eventAt, recordsOf, removeEvents, streamEvents } from './event-records.ts';

export type ReceiveContext<E extends AnyEvent> = {
  readonly db: TallyDatabase;
  readonly decode: (record: unknown) => StoredEvent<E>;
  readonly projections: Projections;
};

type Tx = IDBPTransaction<TallyDB, StoreNames<TallyDB>[], 'readwrite'>;

const RECEIVE_STORES: StoreNames<TallyDB>[] = [
  'events',
  'streams',
  'snapshots',
  'views',
  'meta',
  'outbox',
  'rejections',
  'bases',
];

/** What `planExtend` writes: the events, the stream's head, the position and the rows. */
const EXTEND_STORES: StoreNames<TallyDB>[] = ['events', 'streams', 'views', 'meta'];

const nothing = { events: [], rows: [], rebased: [] };

/**
 * The server's events for one stream, received in ONE IndexedDB transaction
 * (docs/architecture.md, "Sync rules"): what they mean is decided by `planReceive` in core; here
 * it is read and written. A crash at any point leaves either the old stream or the new one.
 */
export async function receiveInTransaction<E extends AnyEvent>(
  context: ReceiveContext<E>,
  stream: StreamId,
  remote: readonly EventEnvelope<E>[],
  rebase: Rebaser<E>,
  recheck: boolean,
): Promise<Received<E>> {
  // Strict like appends: confirming and rebasing must be on disk before anything follows them.
  const tx = context.db.transaction(RECEIVE_STORES, 'readwrite', { durability: 'strict' });
  const ops: Promise<unknown>[] = [];
  try {
    const { at, around } = await readStreamAt(tx, context, stream, remote);
    const plan = planReceive(at, remote, recheck);
    const result = await carryOut(tx, context, at, around, plan, rebase, ops);
    commitNow(tx);
    await Promise.all([...ops, tx.done]);
    return { ...result, known: knownAfter(at, around, plan, remote, context.projections) };
  } catch (error) {
    await abandon(tx, ops);
    throw error;
  }
}

/** What a receive did, and what it leaves known of its stream (`ReceivedKnown`), if anything. */
export type Received<E extends AnyEvent> = {
  readonly outcome: ReceiveOutcome<E>;
  readonly notice: CommitNotice<E>;
  readonly known?: ReceivedKnown;
};

/**
 * A stream as a receive left it stored, with nothing pending: its head, the rows its events
 * feed (`refs`: every row known, `rows`: the values of those that exist), the store-wide
 * position and the commands listed as rejected after sync (only a rebase or a deletion adds
 * one, and either leaves nothing known). What the next receive of the same stream is decided on
 * without a read, while nothing else has written since (`IndexedDBEventStore.receive`).
 */
export type ReceivedKnown = {
  readonly head: StreamHead;
  readonly refs: ReadonlySet<string>;
  readonly rows: ReadonlyMap<string, unknown>;
  readonly position: number;
  readonly rejected: ReadonlySet<string>;
};

/** What a receive that confirmed or extended leaves known, when nothing is pending after it. */
function knownAfter<E extends AnyEvent>(
  at: StreamAtReceive<E>,
  { position, rows }: Around,
  plan: ReceivePlan<E>,
  remote: readonly EventEnvelope<E>[],
  projections: Projections,
): ReceivedKnown | undefined {
  if (plan.type !== 'confirm' && plan.type !== 'extend') return undefined;
  const version = plan.type === 'extend' ? plan.confirmed + plan.foreign.length : at.version;
  const confirmed = plan.type === 'extend' ? version : plan.confirmed;
  if (version !== confirmed) return undefined;
  // `rows` is what the extend folded into (carryOut): the values after it.
  return {
    head: { stream: at.stream, version, confirmed, ...(at.base ? { base: at.base } : {}) },
    refs: new Set(rowsTouched(remote, projections.of).keys()),
    rows,
    position: plan.type === 'extend' ? position + plan.foreign.length : position,
    // Those the plan cleared are gone.
    rejected: new Set([...at.rejected].filter((id) => !plan.clearRejections.includes(id))),
  };
}

/**
 * The server's next events for a stream a receive left known (`ReceivedKnown`), nothing
 * pending: written without reading first, the same writes `planExtend` makes after a read, in
 * one strict transaction. Undefined, nothing done, unless the events simply follow its head,
 * touch only rows it knows, and carry no command listed as rejected (their outcome clears the
 * rejection: `planReceive`): the receive then reads, as any. Decided at once: when it answers a
 * promise, its transaction exists already (a writer beside the appends must create it before
 * anything else can start).
 */
export function receiveKnown<E extends AnyEvent>(
  context: ReceiveContext<E>,
  known: ReceivedKnown,
  remote: readonly EventEnvelope<E>[],
): Promise<Received<E>> | undefined {
  const { head } = known;
  if (
    remote.length === 0 ||
    !remote.every(
      (event, i) =>
        event.stream === head.stream &&
        event.version === head.version + i + 1 &&
        !known.rejected.has(event.meta.command),
    )
  )
    return undefined;
  const touched = rowsTouched(remote, context.projections.of);
  if (![...touched.keys()].every((k) => known.refs.has(k))) return undefined;
  const at: StreamAtReceive<E> = {
    stream: head.stream,
    version: head.version,
    confirmed: head.confirmed ?? NO_STREAM,
    ...(head.base ? { base: head.base } : {}),
    tail: [],
    outbox: [],
    confirmedIds: new Map(),
    rejected: new Set(),
  };
  // Folded into a copy: what is known stays as stored until this transaction commits.
  const rows = new Map(known.rows);
  const writes = planExtend(at, remote, known.position, rows, context.projections.of);
  // Only the stores an extend writes: a transaction over fewer opens faster. `events` is one,
  // so it still runs after every append created before it.
  const tx = context.db.transaction(EXTEND_STORES, 'readwrite', { durability: 'strict' });
  return writeKnown(tx, writes, known, rows);
}

async function writeKnown<E extends AnyEvent>(
  tx: Tx,
  writes: ReceiveWrites<E>,
  known: ReceivedKnown,
  rows: Map<string, unknown>,
): Promise<Received<E>> {
  const ops: Promise<unknown>[] = [];
  try {
    await write(tx, writes, ops);
    commitNow(tx);
    await Promise.all([...ops, tx.done]);
  } catch (error) {
    await abandon(tx, ops);
    throw error;
  }
  return {
    outcome: {
      type: 'applied',
      confirmed: writes.head.version,
      version: writes.head.version,
      appended: writes.add,
      rebased: false,
      rejected: [],
    },
    notice: { events: writes.add, rows: writes.rows, rebased: [] },
    known: { ...known, head: writes.head, rows, position: writes.position },
  };
}

/** A receive's transaction that must write nothing: aborted, its own failure kept observed. */
async function abandon(tx: Tx, ops: readonly Promise<unknown>[]): Promise<void> {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted.
  }
  await tx.done.catch(() => undefined);
  await Promise.allSettled(ops);
}

/** What a receive may need, beside the stream: read with it, so it costs no round trip later. */
type Around = { readonly position: number; readonly rows: Map<string, unknown> };

/**
 * Reads the stream as its plan needs it, in one round trip when it can: what does not depend on
 * the head (its outbox entries, the rejections, the position, the rows the server's events
 * touch) is asked for with the head, and so are the events after the confirmed head, guessed:
 * the server's events usually start right after it (another device's, or the echo of this
 * device's own), so the events from the first of them are read, at most a few more than came.
 * A wrong or cut-off guess is read again once the head is known. The rows and the position are
 * read even for a plan that will not use them (an echo): a get or two, for a round trip fewer.
 */
async function readStreamAt<E extends AnyEvent>(
  tx: Tx,
  { decode, projections }: ReceiveContext<E>,
  stream: StreamId,
  remote: readonly EventEnvelope<E>[],
): Promise<{ at: StreamAtReceive<E>; around: Around }> {
  const events = tx.objectStore('events');
  const from = remote[0]?.version;
  const guessLimit = remote.length + 64;
  const [stored, outbox, rejected, position, rows, guessed] = await Promise.all([
    tx.objectStore('streams').get(stream),
    tx.objectStore('outbox').index('byStream').getAll(stream),
    tx.objectStore('rejections').getAllKeys(),
    readStoredPosition(unwrap(tx)),
    // A superset of what an extend folds: its events are some of these.
    readRows(tx, rowsTouched(remote, projections.of)),
    from === undefined
      ? undefined
      : streamEvents(events, stream, from, Number.MAX_SAFE_INTEGER, guessLimit),
  ]);
  const head = stored === undefined ? undefined : checkStreamHead(stored);
  const confirmed = head?.confirmed ?? NO_STREAM;
  // Below a base nothing is held to read; at it, the head names the id.
  const below = head?.base?.version ?? NO_STREAM;
  const known = remote
    .filter((event) => event.version <= confirmed && event.version > below)
    .map((event) => event.version);
  // The guess is the tail exactly when it started after the head and was not cut off.
  const [tail, ids] =
    guessed !== undefined &&
    from === confirmed + 1 &&
    guessed.length < guessLimit &&
    known.length === 0
      ? [guessed, []]
      : await Promise.all([
          streamEvents(events, stream, confirmed + 1),
          Promise.all(known.map((version) => eventAt(events, stream, version))),
        ]);
  const at = {
    stream,
    version: head?.version ?? NO_STREAM,
    confirmed,
    ...(head?.base ? { base: head.base } : {}),
    tail: tail.map(decode),
    outbox: outbox.map(checkOutboxRow).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)),
    confirmedIds: new Map(known.flatMap((v, i) => (ids[i] ? [[v, ids[i].id] as const] : []))),
    rejected: new Set(rejected),
  };
  return { at, around: { position, rows } };
}

async function carryOut<E extends AnyEvent>(
  tx: Tx,
  context: ReceiveContext<E>,
  at: StreamAtReceive<E>,
  { position, rows }: Around,
  plan: ReceivePlan<E>,
  rebase: Rebaser<E>,
  ops: Promise<unknown>[],
): Promise<{ outcome: ReceiveOutcome<E>; notice: CommitNotice<E> }> {
  if (plan.type === 'gap')
    return { outcome: { type: 'gap', confirmed: at.confirmed }, notice: nothing };
  for (const seq of plan.doneOutbox) ops.push(tx.objectStore('outbox').delete(seq));
  for (const id of plan.clearRejections) ops.push(tx.objectStore('rejections').delete(id));
  const applied = { type: 'applied' as const, appended: [], rebased: false, rejected: [] };
  if (plan.type === 'confirm') {
    if (plan.confirmed !== at.confirmed)
      ops.push(
        tx.objectStore('streams').put({
          stream: at.stream,
          version: at.version,
          confirmed: plan.confirmed,
          ...(at.base ? { base: at.base } : {}),
        }),
      );
    return {
      outcome: { ...applied, confirmed: plan.confirmed, version: at.version },
      notice: nothing,
    };
  }
  if (plan.type === 'extend') {
    const writes = planExtend(at, plan.foreign, position, rows, context.projections.of);
    await write(tx, writes, ops);
    return {
      outcome: {
        ...applied,
        confirmed: writes.head.version,
        version: writes.head.version,
        appended: writes.add,
      },
      notice: { events: writes.add, rows: writes.rows, rebased: [] },
    };
  }
  return carryOutRebase(tx, context, at, plan, rebase, position, ops);
}

async function carryOutRebase<E extends AnyEvent>(
  tx: Tx,
  context: ReceiveContext<E>,
  at: StreamAtReceive<E>,
  plan: Extract<ReceivePlan<E>, { type: 'rebase' }>,
  rebase: Rebaser<E>,
  position: number,
  ops: Promise<unknown>[],
): Promise<{ outcome: ReceiveOutcome<E>; notice: CommitNotice<E> }> {
  // Reading the whole confirmed stream is O(N), and rebases are rare. A stream joined from a
  // snapshot is read from its base: its state and rows there, its events after.
  const from = at.base?.version ?? NO_STREAM;
  const [base, stored] = await Promise.all([
    at.base ? tx.objectStore('bases').get(at.stream) : undefined,
    plan.confirmed === from
      ? []
      : streamEvents(tx.objectStore('events'), at.stream, from + 1, plan.confirmed),
  ]);
  if (at.base && base?.version !== at.base.version)
    throw new TallyError('invalid', `The snapshot ${at.stream} was joined from is missing.`);
  const confirmedEvents = stored.map(context.decode);
  const decided = rebase({
    ...(base ? { base: { version: base.version, state: base.state } } : {}),
    confirmed: [...confirmedEvents, ...plan.foreign],
    pending: plan.redecide,
  });
  const writes = planRebase(
    at,
    plan,
    confirmedEvents,
    decided,
    position,
    context.projections.of,
    base?.rows,
  );
  for (const entry of plan.stillPending) ops.push(tx.objectStore('outbox').delete(entry.seq!));
  await write(tx, writes, ops);
  return {
    outcome: {
      type: 'applied',
      appended: [],
      confirmed: writes.head.confirmed ?? NO_STREAM,
      version: writes.head.version,
      rebased: true,
      rejected: writes.rejections,
    },
    notice: { events: [], rows: writes.rows, rebased: [at.stream], position: writes.position },
  };
}

async function readRows(
  tx: Tx,
  refs: ReturnType<typeof rowsTouched>,
): Promise<Map<string, unknown>> {
  const views = tx.objectStore('views');
  const found = await Promise.all(
    [...refs.values()].map(({ view, key }) => views.get([view, key])),
  );
  return new Map(found.flatMap((row) => (row ? [[rowKey(row), row.value] as const] : [])));
}

async function write<E extends AnyEvent>(
  tx: Tx,
  writes: ReceiveWrites<E>,
  ops: Promise<unknown>[],
): Promise<void> {
  const events = tx.objectStore('events');
  if (writes.remove.length > 0) ops.push(removeEvents(events, writes.remove));
  // Deletes go first: a new pending event may take a version an old one had.
  await Promise.all(ops.splice(0));
  for (const record of recordsOf(writes.add as readonly StoredEvent[]))
    ops.push(events.add(record));
  for (const entry of writes.outbox) ops.push(tx.objectStore('outbox').put(entry));
  for (const rejection of writes.rejections) ops.push(tx.objectStore('rejections').put(rejection));
  ops.push(tx.objectStore('streams').put(writes.head));
  if (writes.dropSnapshot) ops.push(tx.objectStore('snapshots').delete(writes.head.stream));
  ops.push(tx.objectStore('meta').put({ key: 'head', position: writes.position }));
  // Received beside the appends with everything written behind them stored
  // (IndexedDBEventStore.beside): what is written here leaves it whole at the new position.
  ops.push(tx.objectStore('meta').put({ key: 'whole', position: writes.position }));
  const views = tx.objectStore('views');
  for (const { view, key, value } of writes.rows)
    ops.push(value === undefined ? views.delete([view, key]) : views.put({ view, key, value }));
}
