import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import type { AnyEvent, RejectedAfterSync, StoredEvent } from '../core/event-store.ts';
import { limits } from '../core/protocol.ts';
import type { NextPush, PushStream, SyncSettings, SyncStorage } from '../core/sync-port.ts';
import type { Engine } from './engine.ts';
import type { Unwritten } from './written-behind.ts';
import type { OutboxEntry } from '../core/append-plan.ts';
import { makeOutboxWhole } from './outbox.ts';
import { TallyError } from '../core/errors.ts';
import type { TallyDB, TallyDatabase } from './idb-schema.ts';
import type { IDBPTransaction } from 'idb';
import {
  commandsThatFit,
  envelope,
  morePending,
  pushStreamOf,
  type FittingCommands,
  type PushCandidate,
} from '../core/push-plan.ts';
import type { StreamSnapshot } from '../core/stream-snapshot.ts';
import {
  checkCursor,
  checkJoin,
  checkOutboxRow,
  checkStreamHead,
  checkSyncConfig,
} from './stored-records.ts';
import { eventAt, rangesEvents, streamEvents } from './event-records.ts';

/** The sync port over this device's IndexedDB and engine. */
export class IndexedDBSyncStorage implements SyncStorage {
  private readonly db: TallyDatabase;
  private readonly decode: (record: unknown) => StoredEvent;

  constructor(private readonly engine: Engine) {
    this.db = engine.db;
    this.decode = (record) => engine.store.decodeRecord(record);
  }

  // The outbox and heads are written behind the appends (worker/written-behind.ts): the next
  // push and the pending count read what is stored, plus the outbox entries of committed appends
  // and the confirmed versions of accepted pushes not written yet (commits made meanwhile go in
  // the next push). A head's confirmed version and base belong to sync: stored, or raised in
  // memory by an accepted push, never taken from an append's head.
  readPush = async (skip?: ReadonlySet<StreamId>) => {
    this.outboxKept();
    const memory = this.engine.store.pushFromMemory();
    const fromMemory = memory && pushFromMemory(memory, skip);
    if (fromMemory) {
      this.pushReads.memory++;
      return fromMemory;
    }
    this.pushReads.store++;
    return this.engine.store.withUnwritten((unwritten, sawOutboxEmpty) =>
      readPushFromStore(this.db, this.decode, unwritten, skip, sawOutboxEmpty),
    );
  };
  /** How the pushes so far were made: from memory, or read from the store. A figure for tests. */
  readonly pushReads = { memory: 0, store: 0 };
  confirmPushed = (stream: StreamId, events: readonly EventEnvelope[]) =>
    this.engine.store.confirmPushed(stream, events);
  readRestore = (stream: StreamId, from: number, to: number) =>
    readRestore(this.db, this.decode, stream, from, to);
  pendingCount = async (skip?: ReadonlySet<StreamId>): Promise<number> => {
    const counts = (entries: readonly OutboxEntry[]) =>
      entries.filter((entry) => !skip?.has(entry.stream)).length;
    this.outboxKept();
    // The stored outbox known empty and nothing being written (what a push from memory needs):
    // counted from memory, where every status change read the store (a transaction a command).
    const memory = this.engine.store.pushFromMemory();
    if (memory) return counts(memory.unwritten.outbox);
    return this.engine.store.withUnwritten(async (unwritten) => {
      this.outboxKept();
      const tx = this.db.transaction('outbox', 'readonly');
      // A write of what is behind in progress: its entries may be stored already, or not.
      if (unwritten.maybeStored > 0)
        return counts(withUnwritten((await tx.store.getAll()).map(checkOutboxRow), unwritten));
      const [all, ...skipped] = await Promise.all([
        tx.store.count(),
        ...[...(skip ?? [])].map((stream) => tx.store.index('byStream').count(stream)),
      ]);
      return all - skipped.reduce((sum, n) => sum + n, 0) + counts(unwritten.outbox);
    });
  };
  readSettings = () => readSyncConfig(this.db);
  /**
   * Sync starts: stored with every pending command in the outbox, made from the events when the
   * appends kept none (no space was stored: worker/outbox.ts).
   */
  writeSettings = (settings: SyncSettings) =>
    this.engine.store.outboxWhole
      ? writeSyncConfig(this.db, settings)
      : this.outboxWhole({ forget: false, settings });
  clearSettings = () => this.outboxWhole({ forget: true });

  private outboxWhole(change: Parameters<typeof makeOutboxWhole>[3]): Promise<void> {
    const store = this.engine.store;
    return store.beside(async () => {
      const made = makeOutboxWhole(this.db, this.decode, this.commandsOf, change);
      // Its transaction is created: an append decided from now on is not in what it reads.
      store.keepOutbox();
      await made;
      store.outboxWhole = true;
    });
  }

  /** The outbox is read only where it holds every pending command: a space is stored. */
  private outboxKept(): void {
    if (!this.engine.store.outboxWhole)
      throw new TallyError('conflict', 'No space is stored here: nothing is pending for one.');
  }

  private readonly commandsOf = (events: readonly StoredEvent[]) =>
    this.engine.models.modelOf(events[0]!.stream).commandsOf(events);
  readFeedCursor = (space: string) => readCursor(this.db, space);
  writeFeedCursor = (space: string, cursor: string) => writeCursor(this.db, space, cursor);
  readJoinCursor = async (space: string) => {
    const record = await this.db.get('meta', 'join');
    if (record === undefined) return undefined;
    const stored = checkJoin(record);
    return stored.space === space ? stored.cursor : undefined;
  };
  writeJoinCursor = async (space: string, cursor: string) => {
    await this.db.put('meta', { key: 'join', space, cursor });
  };
  finishJoin = async (space: string, cursor: string) => {
    const tx = this.db.transaction('meta', 'readwrite', { durability: 'strict' });
    await Promise.all([
      tx.store.put({ key: 'cursor', space, cursor }),
      tx.store.delete('join'),
      tx.done,
    ]);
  };
  /** The rejections as last read, while nothing that writes them has run since. */
  private rejections: { readonly epoch: string; readonly rows: RejectedAfterSync[] } | undefined;
  /** Dismissals running, and ended. */
  private dismissing = 0;
  private dismissed = 0;
  /**
   * Read once, then from memory while nothing that writes them has run (every status change
   * asked for them: a read transaction per command on a device that syncs). Only writers beside
   * the appends write them (receive.ts, forget-stream.ts), and dismissing.
   */
  readRejections = async (): Promise<RejectedAfterSync[]> => {
    const before = this.rejectionsEpoch();
    if (before !== undefined && this.rejections?.epoch === before) return [...this.rejections.rows];
    const rows = await readRejections(this.db);
    this.rejections =
      before !== undefined && this.rejectionsEpoch() === before
        ? { epoch: before, rows: [...rows] }
        : undefined;
    return rows;
  };
  dismissRejection = async (commandId: string): Promise<void> => {
    this.dismissing++;
    try {
      await dismissRejection(this.db, commandId);
    } finally {
      this.dismissing--;
      this.dismissed++;
    }
  };
  /** Undefined while a writer of them runs; equal before and after a read: none ran meanwhile. */
  private rejectionsEpoch(): string | undefined {
    const beside = this.engine.store.besideEpoch();
    return beside === undefined || this.dismissing > 0 ? undefined : `${beside}:${this.dismissed}`;
  }
  decodeRemote = (raw: unknown) => this.engine.models.decode(raw);
  receive = (stream: StreamId, events: readonly EventEnvelope[]) =>
    this.engine.receive(stream, events);
  installBases = (space: string, snapshots: readonly StreamSnapshot[]) =>
    this.engine.installBases(space, snapshots);
  confirmedOf = (stream: StreamId) => this.engine.confirmedOf(stream);
  heldFrom = async (stream: StreamId) => {
    const head = await this.db.get('streams', stream);
    return head === undefined ? 0 : (checkStreamHead(head).base?.version ?? 0);
  };
  bases = () => this.engine.bases();
  fillBase = (stream: StreamId, events: readonly EventEnvelope[]) =>
    this.engine.fillBase(stream, events);
  dropDeleted = async (stream: StreamId) => {
    await this.engine.forgetDeleted(stream);
  };
  onChange(listener: (change: { readonly rebased: boolean }) => void): () => void {
    return this.engine.onCommit((notice) => {
      // What others decided (a receive, a base, a deletion) leaves nothing new to push.
      if (notice.local || notice.rebased.length > 0)
        listener({ rebased: notice.rebased.length > 0 });
    });
  }
}

/**
 * The next push (docs/architecture.md, "Sync rules"): per stream with pending commands, its confirmed head as
 * `expectedVersion` and the pending events, oldest streams first, within the protocol's limits.
 * Only whole commands go into a push, so the server never accepts half of one.
 *
 * Which commands fit is known from the outbox alone, so everything they need (heads, events, the
 * id at each confirmed head) is then asked for at once: two round trips, not one per stream and
 * command. A push is on the way of every command to the other devices.
 */
export async function readPushFromStore<E extends AnyEvent>(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent<E>,
  unwritten: Unwritten,
  skip: ReadonlySet<StreamId> | undefined,
  sawOutboxEmpty: () => void = () => undefined,
): Promise<NextPush> {
  const tx = db.transaction(['outbox', 'streams', 'events', 'meta'], 'readonly');
  const [outboxRows, settings] = await Promise.all([
    tx.objectStore('outbox').getAll(),
    tx.objectStore('meta').get('sync'),
  ]);
  if (outboxRows.length === 0) sawOutboxEmpty();
  const rows = withUnwritten(outboxRows.map(checkOutboxRow), unwritten).filter(
    (row) => !skip?.has(row.stream),
  );
  const space = settings?.key === 'sync' ? settings.space : undefined;
  const push: PushRead = { streams: [], waiting: new Set() };
  const { streams, waiting } = push;
  for (;;) {
    const taken = new Set(streams.map(({ stream }) => stream));
    const budget = limits.maxEventsPerPush - streams.reduce((n, s) => n + s.events.length, 0);
    const skipped = waiting.size;
    const { fit: candidates, leftOut } = commandsThatFit(
      rows.filter(({ stream }) => !waiting.has(stream) && !taken.has(stream)),
      budget,
    );
    await addPushable(tx, candidates, push, (candidate) =>
      pushStreamOf(candidate, space, unwritten.confirmed.get(candidate.stream) ?? 0, decode),
    );
    if (!leftOut || waiting.size === skipped || streams.length >= limits.maxStreamsPerPush) break;
  }
  await tx.done;
  return { streams, more: morePending(rows, streams, waiting) };
}

/** The push being read: the streams in it, and those that cannot be pushed now. */
type PushRead = {
  readonly streams: PushStream[];
  /** Their room goes to the others. */
  readonly waiting: Set<StreamId>;
};

type PushTransaction = IDBPTransaction<
  TallyDB,
  ('outbox' | 'streams' | 'events' | 'meta')[],
  'readonly'
>;

/**
 * Reads the candidates' heads and events, and adds the streams that can be pushed (`pushStream`
 * says which, and how). Streams whose versions do not follow their confirmed head are skipped, so
 * more may be read than pushed; in chunks, so a long outbox is not read far past the limit.
 */
async function addPushable(
  tx: PushTransaction,
  candidates: readonly FittingCommands[],
  { streams, waiting }: PushRead,
  pushStream: (candidate: PushCandidate) => PushStream | undefined,
): Promise<void> {
  let next = 0;
  while (next < candidates.length && streams.length < limits.maxStreamsPerPush) {
    const chunk = candidates.slice(next, (next += limits.maxStreamsPerPush - streams.length));
    for (const { rawHead, ...read } of await readCandidates(tx, chunk)) {
      // Checked in stream order, as each is judged: the first damage met is the one told.
      const candidate = {
        ...read,
        head: rawHead === undefined ? undefined : checkStreamHead(rawHead),
      };
      const pushed = pushStream(candidate);
      if (!pushed) waiting.add(candidate.stream);
      else if (streams.length < limits.maxStreamsPerPush) streams.push(pushed);
    }
  }
}

/** Each stream's head, the events its fitting commands name and the id at its confirmed head, at once. */
async function readCandidates(
  tx: PushTransaction,
  chunk: readonly FittingCommands[],
): Promise<(Omit<PushCandidate, 'head'> & { readonly rawHead: unknown })[]> {
  const events = tx.objectStore('events');
  // One range per stream, each batch read once however many of them it holds.
  const [heads, held, ids] = await Promise.all([
    Promise.all(chunk.map(({ stream }) => tx.objectStore('streams').get(stream))),
    rangesEvents(
      events,
      chunk.map(
        ({ stream, versions }) => [stream, Math.min(...versions), Math.max(...versions)] as const,
      ),
    ),
    // The id at the confirmed head, which is the version before the first pending one
    // whenever the stream is pushed at all (checked by `pushStreamOf`).
    Promise.all(chunk.map(({ stream, versions }) => idAt(events, stream, versions[0]! - 1))),
  ]);
  return chunk.map(({ stream, versions }, i) => {
    const at = new Map(held[i]!.map((event) => [event.version, event]));
    return {
      stream,
      rawHead: heads[i],
      stored: versions.map((version) => at.get(version)),
      expectedId: ids[i]!,
    };
  });
}

/**
 * The next push made from memory (docs/architecture.md, "Pushing from memory"): the same push
 * `readPushFromStore` would read, when the stored outbox is known empty, every pending command is still
 * behind the appends with its events, and each stream's confirmed head is known from the push
 * the server accepted last. Undefined when any of it is not known (or the push would need the
 * store's judgement: a stream whose versions do not follow its head): the store is read then.
 */
function pushFromMemory(
  { unwritten, confirmedHead }: NonNullable<ReturnType<Engine['store']['pushFromMemory']>>,
  skip: ReadonlySet<StreamId> | undefined,
): NextPush | undefined {
  const rows = unwritten.outbox.filter((row) => !skip?.has(row.stream));
  if (rows.length === 0) return { streams: [], more: false };
  const { fit } = commandsThatFit(rows, limits.maxEventsPerPush);
  if (fit.length === 0) return undefined;
  const eventsOf = new Map<string, StoredEvent>();
  for (const row of rows) {
    const events = unwritten.eventsOf(row);
    if (!events) return undefined;
    for (const event of events) eventsOf.set(`${event.stream}\u0000${event.version}`, event);
  }
  const streams: PushStream[] = [];
  for (const { stream, versions } of fit.slice(0, limits.maxStreamsPerPush)) {
    const head = confirmedHead(stream);
    if (!head) return undefined;
    const events: PushStream['events'][number][] = [];
    for (const [i, version] of versions.entries()) {
      const event = eventsOf.get(`${stream}\u0000${version}`);
      if (!event || version !== head.version + i + 1) return undefined;
      events.push(envelope(event) as PushStream['events'][number]);
    }
    streams.push({
      stream,
      expectedVersion: head.version,
      ...(head.version > 0 ? { expectedId: head.id } : {}),
      events,
    });
  }
  return { streams, more: morePending(rows, streams, new Set()) };
}

/**
 * The stored outbox entries, then those still behind the appends (they get the next keys when
 * they are written), each command once: one being written may be both.
 */
function withUnwritten(stored: OutboxEntry[], unwritten: Unwritten): OutboxEntry[] {
  const key = (entry: OutboxEntry) => `${entry.stream}\u0000${entry.commandId}`;
  const held = unwritten.maybeStored > 0 ? new Set(stored.map(key)) : new Set<string>();
  return [
    ...stored,
    ...unwritten.outbox.filter((entry, i) => i >= unwritten.maybeStored || !held.has(key(entry))),
  ];
}

async function readSyncConfig(db: TallyDatabase): Promise<SyncSettings | undefined> {
  const record = await db.get('meta', 'sync');
  return record === undefined ? undefined : checkSyncConfig(record);
}

async function writeSyncConfig(db: TallyDatabase, config: SyncSettings): Promise<void> {
  await db.put('meta', { key: 'sync', ...config });
}

async function readCursor(db: TallyDatabase, space: string): Promise<string> {
  const record = await db.get('meta', 'cursor');
  if (record === undefined) return '0';
  const stored = checkCursor(record);
  return stored.space === space ? stored.cursor : '0';
}

async function writeCursor(db: TallyDatabase, space: string, cursor: string): Promise<void> {
  await db.put('meta', { key: 'cursor', space, cursor });
}

async function readRejections(db: TallyDatabase): Promise<RejectedAfterSync[]> {
  return (await db.getAll('rejections')).sort((a, b) => a.at - b.at);
}

async function dismissRejection(db: TallyDatabase, commandId: string): Promise<void> {
  await db.delete('rejections', commandId);
}

/**
 * The confirmed events of a stream after `from`, up to `to`, as pushes of at most the protocol's
 * limit: what a device sends back to a server that came back with fewer events than it had
 * already accepted (Redis restarted and lost its last second).
 */
async function readRestore<E extends AnyEvent>(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent<E>,
  stream: string,
  from: number,
  to: number,
): Promise<PushStream[]> {
  const raw = await streamEvents(db.transaction('events').store, stream, from + 1, to);
  const events = raw.map((record) => envelope(decode(record)) as PushStream['events'][number]);
  const tx = db.transaction(['events', 'streams'], 'readonly');
  const [head, held] = await Promise.all([
    tx.objectStore('streams').get(stream),
    idAt(tx.objectStore('events'), stream, from),
  ]);
  // At a base the event is the server's, named by the base (nothing is stored there).
  const base = head === undefined ? undefined : checkStreamHead(head).base;
  const first = base?.version === from ? { expectedId: base.id } : held;
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
  events: Parameters<typeof eventAt>[0],
  stream: string,
  version: number,
): Promise<{ expectedId?: string }> {
  if (version === 0) return {};
  const record = (await eventAt(events, stream, version)) as { id?: unknown } | undefined;
  return typeof record?.id === 'string' ? { expectedId: record.id } : {};
}
