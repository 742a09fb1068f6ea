import { unwrap, type IDBPTransaction } from 'idb';
import {
  checkRead,
  planAppendOn,
  streamHeadSchema,
  type AppendPlan,
  type AppendState,
} from '../core/append-plan.ts';
import { commandsPerTransaction } from '../core/engine-methods.ts';
import { NO_STREAM, type EventEnvelope, type StreamId } from '../core/envelope.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type {
  AnyEvent,
  Commit,
  CommitNotice,
  EventStore,
  LoadedStream,
  Snapshot,
  Rebaser,
  ReceiveOutcome,
  StoredEvent,
} from '../core/event-store.ts';
import type { ModelSet } from '../core/model.ts';
import { readRow, type Projection } from '../core/projection.ts';
import { AppendCache } from './append-cache.ts';
import {
  commitNow,
  completion,
  viewRows,
  type TallyDB,
  type TallyDatabase,
  type ViewRow,
} from './idb-schema.ts';
import { receiveInTransaction, receiveKnown, type ReceivedKnown } from './receive.ts';
import { WrittenBehind, recoverBehind, writeDecided, type Unwritten } from './written-behind.ts';
import { readStoredPosition } from '../browser/stored-reads.ts';
import { eventsAfter, recordsOf, streamEvents, streamTail } from './event-records.ts';
import { fillBase, installBases, type CheckedSnapshot, type Installed } from './stream-bases.ts';

type Waiting<E extends AnyEvent> = {
  readonly commit: Commit<E>;
  /**
   * Its stream had no head when it was asked for: the epoch of other writers then
   * (`WrittenBehind.othersEpoch`), still new if none began since.
   */
  readonly fresh: number | undefined;
  readonly resolve: (events: readonly StoredEvent<E>[]) => void;
  readonly reject: (error: TallyError) => void;
};

export type CommitListener<E extends AnyEvent = AnyEvent> = (notice: CommitNotice<E>) => void;

export type IndexedDBEventStoreOptions = {
  readonly db: TallyDatabase;
  /** Whose codecs decode the events read back, and whose projections the events feed. */
  readonly models: ModelSet;
  /**
   * Upper bound on commits in one transaction (default 250). Not only a bound: a burst larger
   * than it goes as several transactions, two in flight, so the answers of the first reach the
   * tabs, and their next commands are decided, while the disk takes the second (measured,
   * alternated: 1,000 commands in flight went 0.41 → 0.47× the raw strict puts over 1,000
   * counters and 0.52 → 0.60× on one, against 2,000 per transaction; 100 and 500 did no better).
   */
  readonly maxBatch?: number;
  /** How many streams' heads and rows the store keeps in memory (`AppendCache`). */
  readonly maxCached?: number;
};

/** A receive of one stream, told apart from every other write by its identity. */
type Receiving = { readonly stream: StreamId };

/** The transaction was decided on a transaction before it that did not commit. */
class Superseded extends Error {}

/** A group commit decided, with its transaction and what guards it. */
type DecidedAppend<E extends AnyEvent> = {
  readonly plan: AppendPlan<E>;
  readonly raw: IDBTransaction;
  readonly state: AppendState;
  /** `guarded`: it checks an append in flight committed; `superseded`: it did not. */
  readonly guard: { guarded: boolean; superseded: boolean };
};

const MAX_TRANSACTIONS_IN_FLIGHT = 2;
/** How many stream ids the store keeps to answer loads of new streams without a read. */
const MAX_KNOWN_STREAMS = 250_000;
const APPEND_STORES = ['events', 'streams', 'snapshots', 'views', 'meta', 'outbox'] as const;
/**
 * What a commit decided without a read writes: its events, which carry their positions (its
 * heads, outbox entries and rows, and the position in `meta`, are written behind,
 * `WrittenBehind`).
 */
const COMMAND_STORES = ['events'] as const;
const SNAPSHOT_STORES = ['events', 'snapshots'] as const;

/**
 * The browser's event store over IndexedDB (docs/architecture.md, "The path of one command"). Appends use
 * group commit: commits that arrive while a transaction is in flight share the next one, and
 * each caller is acked only after its transaction has completed, with strict durability. The
 * expected-version check runs inside that same transaction. What a transaction does is decided
 * by the pure planners in core; this class reads, carries the plan out, and tells listeners.
 */
export class IndexedDBEventStore<E extends AnyEvent = AnyEvent> implements EventStore<E> {
  private readonly db: TallyDatabase;
  private readonly models: ModelSet;
  private readonly maxBatch: number;
  private queue: Waiting<E>[] = [];
  private flushing = false;
  private writing = 0;
  /** A transaction is reading what it needs: nothing else starts until it has decided. */
  private reading = false;
  private readonly cache: AppendCache;
  private readonly behind: WrittenBehind;
  private loading = false;
  private loads: {
    readonly stream: StreamId;
    readonly expected: { model: string; modelVersion: number };
    readonly resolve: (loaded: LoadedStream<E>) => void;
    readonly reject: (error: unknown) => void;
  }[] = [];
  private readonly listeners = new Set<CommitListener<E>>();
  /**
   * Every stream that has a head, or may have one: read once (`learnStreams`, at the first load
   * that finds the store idle), then kept by this store's own writes from the moment they are
   * asked for, so a stream not in it is new without a read (creating a counter does not wait for
   * a load behind the append before it). A superset: a stream deleted forever stays until the
   * next start, and is read. Undefined until read, and past `MAX_KNOWN_STREAMS` (then every load
   * reads, as before).
   */
  private streamIds: Set<string> | undefined;
  private learning = false;
  /** Streams asked to be written while the ids are being read, added to them once read. */
  private askedWhileLearning: Set<string> | undefined;
  /** Settles once the stream ids are read (or could not be: loads then read, as before). */
  streamsLearned: Promise<void> = Promise.resolve();
  /** Transactions completed; a figure for benchmarks and tests of group commit. */
  transactions = 0;
  /** Numbers the append transactions that write, for what is written behind them. */
  private appendSeq = 0;
  /** Receives decided without a read (`receiveKnown`); a figure for tests. */
  receivedFromMemory = 0;

  constructor(options: IndexedDBEventStoreOptions) {
    this.db = options.db;
    this.models = options.models;
    this.maxBatch = options.maxBatch ?? commandsPerTransaction;
    this.cache = new AppendCache(options.maxCached ?? 2_000);
    this.behind = new WrittenBehind(this.db, (error) =>
      console.warn(
        'Tally: the heads, outbox and read models could not be written; they are kept and tried again.',
        error,
      ),
    );
  }

  /**
   * At open, before anything is read: what appends decided beside their events and had not
   * written when the worker last stopped is folded again (worker/written-behind.ts).
   */
  async recoverBehind(): Promise<void> {
    const { whole, syncing } = await recoverBehind(
      this.db,
      (record) => this.decodeRecord(record),
      this.models,
    );
    this.behind.wholeAt(whole);
    this.behind.keepsOutbox = syncing;
    this.outboxWhole = syncing;
  }

  /**
   * Whether the stored outbox (with what is behind) holds every pending command: true while a
   * space is stored; without one, appends keep no outbox entries (`WrittenBehind.keepsOutbox`)
   * and it is made whole from the events when sync starts (worker/outbox.ts).
   */
  outboxWhole = true;

  /** Whether appends keep their commands' outbox entries now. */
  get keepsOutbox(): boolean {
    return this.behind.keepsOutbox;
  }

  /**
   * From now on every append keeps its commands' outbox entries. Called beside the appends
   * (`beside`), as the transaction that makes the outbox whole is created: an append decided
   * after it is in no read of it, so it must keep its own entry.
   */
  keepOutbox(): void {
    this.behind.keepsOutbox = true;
  }

  /** What is written behind the appends, written now. Resolves once it is stored. */
  writeBehind(): Promise<void> {
    return this.behind.write();
  }

  /** Transactions that wrote what was behind the appends, so far; a figure for tests. */
  get behindTransactions(): number {
    return this.behind.transactions;
  }

  /** Heads read back to be merged with before being written behind, so far; a figure for tests. */
  get headsReadBehind(): number {
    return this.behind.headsRead;
  }

  /**
   * Runs `read`, which must create its transaction before its first await, with what of the
   * outbox and the confirmed versions that transaction does not see (still behind: the entries
   * of committed appends, the versions accepted pushes confirmed), without holding the appends
   * or writing anything first: what commits meanwhile is in the next read. For the next push
   * and the pending count, on the way of every command to the other devices.
   */
  withUnwritten<T>(
    read: (unwritten: Unwritten, sawOutboxEmpty: () => void) => Promise<T>,
  ): Promise<T> {
    // The stored outbox, found empty by this read, is known empty until a writer starts.
    const at = this.writers === 0 ? this.outboxEpoch() : undefined;
    return read(this.behind.unwritten(), () => {
      if (at !== undefined && at === this.outboxEpoch()) this.outboxEmptyAt = at;
    });
  }

  /**
   * Writers beside the appends (`beside`, `appendAtomically`) started and not ended. Whatever
   * they read or write of heads and the outbox is not known in memory meanwhile.
   */
  private writers = 0;
  /** Changes whenever such a writer starts or ends. */
  private writerEpoch = 0;
  /** The value of `outboxEpoch()` when the stored outbox was last read empty. */
  private outboxEmptyAt: number | undefined;
  /**
   * Streams whose confirmed head is known without a read, and the id of its event: set by an
   * accepted push confirmed in memory, forgotten when any writer beside the appends starts.
   */
  private readonly pushedHeads = new Map<
    StreamId,
    { readonly version: number; readonly id: string }
  >();

  /**
   * A number that moves whenever a writer beside the appends starts or ends (a receive, a
   * rebase, a deletion: the only writers of rejections after sync). Equal before and after a
   * read, with none running: nothing such a writer stores changed meanwhile.
   */
  besideEpoch(): number | undefined {
    return this.writers > 0 ? undefined : this.writerEpoch;
  }

  private outboxEpoch(): number {
    return this.writerEpoch + this.behind.outboxWrites;
  }

  private writerStarted(receiving?: Receiving): void {
    this.writers++;
    this.writerEpoch++;
    this.pushedHeads.clear();
    this.outboxEmptyAt = undefined;
    this.otherWriteStarted(receiving);
  }

  /**
   * What the last receive left known of its stream (`ReceivedKnown`): kept while no other write
   * has started since, so the next receive of that stream is decided without a read
   * (docs/architecture.md, "Receiving from memory").
   */
  private lastReceived: { readonly stream: StreamId; readonly known: ReceivedKnown } | undefined;
  /** The receive that has run alone since it started, if one has: another write ends that. */
  private aloneSince: Receiving | undefined;

  /**
   * A write starts: unless it is the receive of the stream last received, that is unknown; and
   * a receive that starts beside another writer (one still running) will leave nothing known.
   */
  private otherWriteStarted(receiving?: Receiving): void {
    if (receiving?.stream !== this.lastReceived?.stream) this.lastReceived = undefined;
    this.aloneSince = receiving && this.writers === 1 ? receiving : undefined;
  }

  private writerEnded(): void {
    this.writers--;
    this.writerEpoch++;
  }

  /**
   * What the next push needs, from memory (docs/architecture.md, "Pushing from memory"): the
   * entries still behind the appends, each with its events, and the confirmed heads accepted
   * pushes left, when the stored outbox is known to be empty (read so, and nothing has written
   * it since). Undefined otherwise: the push reads the store.
   */
  pushFromMemory():
    | {
        readonly unwritten: Unwritten;
        readonly confirmedHead: (
          stream: StreamId,
        ) => { readonly version: number; readonly id: string } | undefined;
      }
    | undefined {
    if (this.writers > 0 || this.outboxEmptyAt !== this.outboxEpoch()) return undefined;
    const unwritten = this.behind.unwritten();
    if (unwritten.maybeStored > 0) return undefined;
    return {
      unwritten,
      confirmedHead: (stream) => {
        const head = this.pushedHeads.get(stream);
        // Raised in memory past what is known here: read it.
        if (!head || (unwritten.confirmed.get(stream) ?? 0) > head.version) return undefined;
        return head;
      },
    };
  }

  /**
   * The server accepted a push of `stream` with `events`: confirmed in memory, with no
   * transaction, when their commands are all still behind the appends; false otherwise, and
   * nothing changed (`WrittenBehind.confirmPushed`): receive them as usual then.
   */
  confirmPushed(stream: StreamId, events: readonly { id: string; version: number }[]): boolean {
    if (!this.behind.confirmPushed(stream, events)) return false;
    // Its confirmed head is now the last of them, unless a writer beside the appends (which may
    // move it) has started.
    const last = events.reduce((a, b) => (b.version > a.version ? b : a));
    if (this.writers === 0) this.pushedHeads.set(stream, { version: last.version, id: last.id });
    return true;
  }

  /** A stream's confirmed version raised in memory and not yet stored (0: none). */
  confirmedBehind(stream: StreamId): number {
    return this.behind.confirmedOf(stream);
  }

  /** The database is closing: nothing more is written behind. */
  close(): void {
    this.behind.stop();
  }

  /**
   * Runs `write`, which must create its transaction before its first await, with no append in
   * flight and everything written behind the appends stored first: how everything that reads
   * or writes heads, the outbox or rows, or moves the position, beside the appends sees them
   * whole and leaves them whole (docs/architecture.md, "Written behind the appends"). Appends
   * created after it run after its transaction.
   */
  async beside<T>(
    write: () => Promise<T>,
    options: {
      /** It only reads: what memory knows of the outbox and the heads still holds. */
      readonly readOnly?: boolean;
      /** It receives the server's events of one stream (`receive`). */
      readonly receiving?: Receiving;
    } = {},
  ): Promise<T> {
    this.held++;
    const writer = options.readOnly !== true;
    if (writer) this.writerStarted(options.receiving);
    let running: Promise<T>;
    try {
      while (this.writing > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
      await this.behind.write();
      if (writer) this.behind.othersWrite();
      running = write();
    } catch (error) {
      if (writer) this.writerEnded();
      throw error;
    } finally {
      this.held--;
      queueMicrotask(() => this.flush());
    }
    return writer ? running.finally(() => this.writerEnded()) : running;
  }

  /** Told after every completed transaction that wrote something, with what it wrote. */
  onCommit(listener: CommitListener<E>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads which streams exist. Not at open, where 100,000 ids would cost the start a few hundred
   * milliseconds of the worker's thread, but at the first load that finds no commit waiting for
   * a transaction (`load`); not waited for: loads read as before until it is done. Every write
   * asked for before it has its transaction already (ordered before this read, so seen by it),
   * and what is asked to be written meanwhile is added, so the set misses no stream that has a
   * head.
   */
  learnStreams(): void {
    this.learning = true;
    // Streams whose heads are still behind the appends are not in what is read.
    const meanwhile = this.behind.streams();
    this.askedWhileLearning = meanwhile;
    this.streamsLearned = this.db.getAllKeys('streams').then(
      (keys) => {
        this.askedWhileLearning = undefined;
        if (keys.length + meanwhile.size > MAX_KNOWN_STREAMS) return;
        const ids = new Set(meanwhile);
        for (const key of keys) if (typeof key === 'string') ids.add(key);
        this.streamIds = ids;
      },
      () => {
        this.askedWhileLearning = undefined;
      },
    );
  }

  /**
   * `stream` may get a head by a transaction about to be created (on every append: no
   * allocation). Answers true when it surely has no head stored yet.
   */
  private mayWrite(stream: StreamId): boolean {
    this.askedWhileLearning?.add(stream);
    if (!this.streamIds || this.streamIds.has(stream)) return false;
    this.streamIds.add(stream);
    if (this.streamIds.size > MAX_KNOWN_STREAMS) this.streamIds = undefined;
    return true;
  }

  /** Tells listeners what a transaction wrote (this store's, or one it was handed, as a deletion). */
  notify(notice: CommitNotice<E>): void {
    if (
      notice.events.length === 0 &&
      notice.rows.length === 0 &&
      notice.rebased.length === 0 &&
      notice.position === undefined
    )
      return;
    for (const listener of this.listeners) listener(notice);
  }

  async receive(
    stream: StreamId,
    events: readonly EventEnvelope<E>[],
    rebase: Rebaser<E>,
    options: { readonly recheck?: boolean } = {},
  ): Promise<ReceiveOutcome<E>> {
    // The receiving transaction (created at once, so it is ordered after every append created
    // so far) writes this stream's head and rows and the position: none of them is known now.
    this.cache.forget(stream);
    this.mayWrite(stream);
    const receiving: Receiving = { stream };
    const context = {
      db: this.db,
      decode: (record: unknown) => this.decodeRecord(record),
      projections: this.models,
    };
    let result;
    try {
      result = await this.beside(
        async () => {
          // Decided from memory when the last receive left this stream known and nothing else
          // has written since (nor writes now); read first otherwise.
          const last = this.lastReceived;
          // Alone: no writer ran when it started (`otherWriteStarted`), and none started since.
          const fromMemory =
            this.aloneSince === receiving && last?.stream === stream && !options.recheck
              ? receiveKnown<E>(context, last.known, events)
              : undefined;
          if (fromMemory) {
            this.receivedFromMemory++;
            return await fromMemory;
          }
          return await receiveInTransaction<E>(
            context,
            stream,
            events,
            rebase,
            options.recheck === true,
          );
        },
        { receiving },
      );
    } catch (error) {
      if (this.aloneSince === receiving) this.lastReceived = undefined;
      throw error;
    } finally {
      this.cache.forget(stream);
    }
    // Known for the next receive of this stream only if no other write started meanwhile.
    this.lastReceived =
      this.aloneSince === receiving && result.known ? { stream, known: result.known } : undefined;
    const { outcome, notice } = result;
    this.transactions++;
    this.notify(notice);
    return outcome;
  }

  /**
   * Streams joined from the server's snapshots become bases (worker/stream-bases.ts), in one
   * transaction; told like a commit (their rows are new).
   */
  async installBases(space: string, snapshots: readonly CheckedSnapshot[]): Promise<Installed> {
    for (const { snapshot } of snapshots) {
      this.cache.forget(snapshot.stream);
      this.mayWrite(snapshot.stream);
    }
    let installed;
    try {
      installed = await this.beside(() => installBases(this.db, space, snapshots));
    } finally {
      for (const { snapshot } of snapshots) this.cache.forget(snapshot.stream);
    }
    this.transactions++;
    this.notify(installed.notice as CommitNotice<E>);
    return installed;
  }

  /**
   * A based stream's history below its base, from the server, stored (worker/stream-bases.ts).
   * Told only as the store's new position: nothing shown changes, and the events are not news,
   * but the first screen kept for the next start is kept at the new head.
   */
  async fillBase(stream: StreamId, events: readonly EventEnvelope[]): Promise<boolean> {
    this.cache.forget(stream);
    try {
      const { filled, stored } = await this.beside(() => fillBase(this.db, stream, events));
      if (filled) {
        this.transactions++;
        const position = stored.at(-1)?.position;
        if (position !== undefined) this.notify({ events: [], rows: [], rebased: [], position });
      }
      return filled;
    } finally {
      this.cache.forget(stream);
    }
  }

  append(commit: Commit<E>): Promise<readonly StoredEvent<E>[]> {
    const fresh = this.mayWrite(commit.stream) ? this.behind.othersEpoch : undefined;
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, fresh, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let every commit decided in this task join the first transaction.
        queueMicrotask(() => this.flush());
      }
    });
  }

  /**
   * Keeps up to two transactions in flight. IndexedDB runs readwrite transactions over the same
   * stores in the order they were created, so the second one sees the first one's writes;
   * meanwhile the worker builds the next batch instead of waiting for the disk.
   */
  private flush(): void {
    this.flushing = false;
    while (
      this.queue.length > 0 &&
      this.writing < MAX_TRANSACTIONS_IN_FLIGHT &&
      !this.reading &&
      this.held === 0
    ) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.otherWriteStarted();
      const alone = this.writing === 0;
      this.writing++;
      void this.write(batch, alone).finally(() => {
        this.writing--;
        if (this.writing === 0) for (const drained of this.drained.splice(0)) drained();
        this.flush();
      });
    }
  }

  /** Atomic appends waiting (`appendAtomically`): no group commit starts meanwhile. */
  private held = 0;
  private readonly drained: (() => void)[] = [];

  /**
   * Commits decided elsewhere (a backup's events) in one transaction, all or none. The appends
   * in flight finish first and none starts meanwhile; the cache forgets what it knew and learns
   * nothing from it, so the next group commit reads what this wrote. Told like any commit.
   */
  async appendAtomically(commits: readonly Commit<E>[]): Promise<AppendPlan<E>> {
    this.held++;
    this.writerStarted();
    try {
      while (this.writing > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
      await this.behind.write();
      this.behind.othersWrite();
      this.cache.clear();
      for (const commit of commits) this.mayWrite(commit.stream);
      const raw = this.begin(APPEND_STORES);
      const done = completion(raw);
      const read = await this.readForAppend(raw, commits);
      const plan = planAppendOn(commits, read.state, this.models);
      // All or nothing: one commit that cannot be written (a damaged record) writes none.
      const failed = plan.outcomes.find((outcome) => outcome instanceof TallyError);
      if (failed) {
        raw.abort();
        await done.catch(() => undefined);
        throw failed;
      }
      const damaged: TallyError[] = [];
      // Written whole with its events: nothing is behind now, and nothing is left behind.
      writeAppend(raw, plan, damaged, {
        behind: false,
        outbox: this.behind.keepsOutbox,
      });
      // Not committed at once (`commitNow`): it writes heads from their reads' callbacks.
      try {
        await done;
      } catch (error) {
        throw damaged[0] ?? error;
      }
      this.transactions++;
      this.notify({ events: plan.events, rows: plan.rows, rebased: [], local: true });
      return plan;
    } finally {
      this.cache.clear();
      this.held--;
      this.writerEnded();
      queueMicrotask(() => this.flush());
    }
  }

  /** Someone else wrote (or is about to write) `stream`: the cache reads it, and the position, again. */
  forgetCached(stream: StreamId): void {
    this.cache.forget(stream);
  }

  /**
   * One group commit (docs/architecture.md, "The path of one command"). When the cache knows
   * every head and row the batch touches, the batch is decided at once and the transaction only
   * writes; otherwise it first reads what is missing, and nothing else starts meanwhile. Either
   * way, created while another append is in flight (not `alone`), the transaction checks before
   * it can commit that that one committed (its last event is stored): if not, it aborts, and
   * its commits are decided again on what is really stored, so a failed first transaction never
   * leaves the second writing after a gap.
   */
  private async write(batch: readonly Waiting<E>[], alone: boolean): Promise<void> {
    const commits = batch.map((waiting) => waiting.commit);
    let plan: AppendPlan<E>;
    /** This transaction's number, once it is decided. */
    let planned: number | undefined;
    try {
      const epoch = this.cache.epoch;
      const cached = this.cache.stateFor(commits, this.models);
      // Decided on the last append in flight that writes events (its heads and rows are taken
      // from memory, not read): that one must have committed, which its last event, stored,
      // proves. With none in flight when this one is created, those before it have committed (a
      // failed one clears the cache, and its successor reads): nothing to check.
      const after = alone ? undefined : this.behind.lastInFlight();
      let decided: DecidedAppend<E>;
      if (cached) decided = this.decideOnCache(commits, cached, after);
      else {
        const raw = this.begin(APPEND_STORES);
        this.reading = true;
        let state: AppendState;
        try {
          state = await this.stateOnRead(raw, commits, after);
        } finally {
          // The next flush runs only after what follows (deciding, writing, planning what is
          // behind), which has no await before it: the next transaction knows this one.
          this.reading = false;
          queueMicrotask(() => this.flush());
        }
        const plan = planAppendOn(commits, state, this.models);
        decided = { plan, raw, state, guard: { guarded: false, superseded: false } };
      }
      const { raw, state, guard } = decided;
      plan = decided.plan;
      const done = completion(raw);
      const damaged: TallyError[] = [];
      writeAppend(raw, plan, damaged, { behind: true });
      // Behind, it makes every request now (the events). The guard's answer may abort it: that
      // one commits once the answer is in.
      if (!guard.guarded) commitNow(raw);
      planned = this.planBehind(batch, plan);
      this.cache.learn(commits, state, plan, this.models);
      // A receive began meanwhile: it moves the position after this transaction.
      if (this.cache.epoch !== epoch) this.cache.position = undefined;
      // Must reject if any request rejects; must wait for the transaction itself either way.
      try {
        await done;
      } catch (error) {
        if (guard.superseded) throw new Superseded();
        throw damaged[0] ?? error;
      }
      this.transactions++;
      if (planned !== undefined) this.behind.committed(planned, plan.position, plan.events.length);
    } catch (error) {
      // It, and those after it (decided on it), wrote nothing; those before it may commit.
      if (planned !== undefined) this.behind.failed(planned);
      this.failed(batch, error);
      return;
    }
    this.answer(batch, plan);
  }

  /**
   * A group commit decided on what the cache knows, before its transaction exists, so that spans
   * only the stores it writes (a narrower transaction is cheaper to open); `events` is in every
   * one, so every append transaction still runs after the one created before it. Decided on an
   * append still in flight (`after`, its last event's position), it checks that event is stored
   * and aborts otherwise (`guard.superseded`).
   */
  private decideOnCache(
    commits: readonly Commit<E>[],
    state: AppendState,
    after: number | undefined,
  ): DecidedAppend<E> {
    const plan = planAppendOn(commits, state, this.models);
    const raw = this.begin(plan.snapshots.length > 0 ? SNAPSHOT_STORES : COMMAND_STORES);
    const guard = { guarded: false, superseded: false };
    if (after !== undefined) {
      guard.guarded = true;
      const check = raw.objectStore('events').getKey(after);
      check.onsuccess = () => {
        if (check.result !== undefined) return;
        guard.superseded = true;
        raw.abort();
      };
    }
    return { plan, raw, state, guard };
  }

  /**
   * What a group commit is decided on, read in its transaction where the cache does not know it
   * (nothing else starts meanwhile: `reading`). Decided on an append still in flight (`after`)
   * that is not stored, it is `Superseded`.
   */
  private async stateOnRead(
    raw: IDBTransaction,
    commits: readonly Commit<E>[],
    after: number | undefined,
  ): Promise<AppendState> {
    const read = await this.readForAppend(raw, commits);
    if (after !== undefined && read.position < after) throw new Superseded();
    return read.state;
  }

  /** Hands what a group commit decided to be written behind it; answers its number, if any. */
  private planBehind(batch: readonly Waiting<E>[], plan: AppendPlan<E>): number | undefined {
    if (plan.events.length === 0) return undefined;
    const seq = ++this.appendSeq;
    const others = this.behind.othersEpoch;
    const fresh = batch.filter((waiting) => waiting.fresh === others);
    this.behind.planned(
      seq,
      plan,
      fresh.map((waiting) => waiting.commit.stream),
    );
    return seq;
  }

  /** A group commit committed: each caller gets its outcome, and listeners the notice. */
  private answer(batch: readonly Waiting<E>[], plan: AppendPlan<E>): void {
    batch.forEach((waiting, i) => {
      const outcome = plan.outcomes[i]!;
      if (outcome instanceof TallyError) waiting.reject(outcome);
      else waiting.resolve(outcome);
    });
    this.notify({ events: plan.events, rows: plan.rows, rebased: [], local: true });
  }

  /** A group commit's transaction did not commit: nothing of it was written. */
  private failed(batch: readonly Waiting<E>[], error: unknown): void {
    // What the cache assumed may not be stored: everything is read again.
    this.cache.clear();
    if (error instanceof Superseded) {
      // Its commits go first into the next transaction, decided on what is really stored
      // (those on top of the failed one fail their version check).
      this.queue.unshift(...batch);
      return;
    }
    const failure =
      error instanceof DOMException && error.name === 'ConstraintError'
        ? new TallyError(
            'conflict',
            'Another writer appended to the same stream; nothing was written.',
            { cause: error },
          )
        : toTallyError(error);
    for (const waiting of batch) waiting.reject(failure);
  }

  /**
   * An append transaction, on the platform's object (no wrapper: a command's transaction makes
   * few requests, and their cost is the command's). Strict: Chromium's default ('relaxed')
   * reports `complete` before the data is flushed, and an ack must mean the events survive a
   * crash. Group commit pays it once per batch.
   */
  private begin(stores: readonly (typeof APPEND_STORES)[number][]): IDBTransaction {
    return unwrap(this.db).transaction(stores, 'readwrite', { durability: 'strict' });
  }

  /** What the cache does not know, read in the transaction, and the cache's part beside it. */
  private async readForAppend(
    tx: IDBTransaction,
    commits: readonly Commit<E>[],
  ): Promise<{ state: AppendState; position: number }> {
    // Both taken now, together: while the reads are out, the cache may drop a stream.
    const missing = this.cache.missing(commits, this.models);
    const known = this.cache.known(commits, this.models);
    // A head or row an append decided and did not write yet is taken from there, not read.
    const streams = [...missing.streams].filter((stream) => {
      const head = this.behind.head(stream);
      if (head === undefined) return true;
      known.heads.set(stream, head);
      return false;
    });
    const refs = [...missing.rows].filter(([k]) => {
      const behind = this.behind.row(k);
      if (behind === undefined) return true;
      if (behind.value !== undefined) known.rows.set(k, behind.value);
      return false;
    });
    const [position, heads, rows] = await Promise.all([
      readStoredPosition(tx),
      Promise.all(streams.map((stream) => result<unknown>(tx.objectStore('streams').get(stream)))),
      Promise.all(
        refs.map(([, { view, key }]) =>
          result<ViewRow | undefined>(tx.objectStore('views').get([view, key])),
        ),
      ),
    ]);
    for (const [i, stream] of streams.entries()) known.heads.set(stream, heads[i]);
    for (const [i, [k]] of refs.entries()) {
      const row = rows[i];
      if (row) known.rows.set(k, row.value);
    }
    return { state: checkRead(commits, { ...known, position }, this.models), position };
  }

  /**
   * A stream's newest usable snapshot and the events after it. Loads share read-only
   * transactions the way appends share commits: those asked for in the same task, and those
   * asked for while a load is in flight, go in one (a thousand new counters are one read, not a
   * thousand, each queued behind the append transaction before it).
   */
  load(stream: StreamId, expected: { model: string; modelVersion: number }) {
    // No commit waits for a transaction (appends queued, an atomic append or anything beside
    // the appends; a receive creates its own at once), and none is reading before it decides:
    // its new streams' heads are neither stored nor behind yet (`WrittenBehind` learns them
    // when it has decided), so the ids read would miss them.
    if (!this.learning && this.queue.length === 0 && this.held === 0 && !this.reading)
      this.learnStreams();
    return new Promise<LoadedStream<E>>((resolve, reject) => {
      this.loads.push({ stream, expected, resolve, reject });
      if (this.loads.length === 1 && !this.loading) queueMicrotask(() => this.loadAll());
    });
  }

  private loadAll(): void {
    const batch = this.loads.splice(0);
    if (batch.length === 0) return;
    // A batch of streams that have no head and none on the way (counters being created) is
    // answered at once, without a read; batches still go one after another, so a new stream
    // never overtakes an earlier load (counters made in a burst keep their order).
    const ids = this.streamIds;
    if (ids && batch.every((job) => !ids.has(job.stream))) {
      for (const job of batch) {
        this.cache.prime(job.stream, NO_STREAM, NO_STREAM);
        job.resolve({ snapshot: undefined, events: [] });
      }
      return;
    }
    let tx;
    try {
      tx = this.db.transaction(['snapshots', 'events', 'streams', 'bases'], 'readonly');
    } catch (error) {
      for (const job of batch) job.reject(error);
      return;
    }
    this.loading = true;
    const jobs = batch.map((job) =>
      this.loadIn(tx, job.stream, job.expected).then(job.resolve, job.reject),
    );
    void Promise.all(jobs).finally(() => {
      this.loading = false;
      this.loadAll();
    });
  }

  private async loadIn(
    tx: IDBPTransaction<TallyDB, ('snapshots' | 'events' | 'streams' | 'bases')[], 'readonly'>,
    stream: StreamId,
    expected: { model: string; modelVersion: number },
  ): Promise<LoadedStream<E>> {
    // A receive writes the stream's head with its events, and an append's head is stored or
    // still behind it (`WrittenBehind`): no head, no events. So a new stream (a counter being
    // created) costs one read.
    const stored = await tx.objectStore('streams').get(stream);
    // A head still behind the appends is newer than the stored one (which keeps the base).
    const behind = this.behind.head(stream);
    const head: unknown =
      behind === undefined
        ? stored
        : {
            stream,
            confirmed: behind.confirmed ?? NO_STREAM,
            ...streamHeadSchema.safeParse(stored).data,
            version: behind.version,
          };
    if (head === undefined) {
      this.cache.prime(stream, NO_STREAM, NO_STREAM);
      return { snapshot: undefined, events: [] };
    }
    const based = streamHeadSchema.safeParse(head).data?.base;
    const [local, base] = await Promise.all([
      tx.objectStore('snapshots').get(stream),
      based ? tx.objectStore('bases').get(stream) : undefined,
    ]);
    // A snapshot of another model or shape is ignored, never misread: replay is always correct.
    const usable = (found: Snapshot | undefined) =>
      found && found.model === expected.model && found.modelVersion === expected.modelVersion
        ? found
        : undefined;
    let snapshot = usable(local);
    // Joined from the server's snapshot: nothing below the base is held, so the stream starts
    // there unless a later snapshot of its own is at hand. A base of another shape cannot be
    // replayed around: the stream cannot load (said, never misread).
    if (based && !(snapshot && snapshot.version >= based.version)) {
      snapshot = usable(base && { ...base, version: base.version });
      if (!snapshot || snapshot.version !== based.version)
        throw new TallyError(
          'invalid',
          `${stream} was joined from a snapshot this version of Tally cannot read; its history must be read from the server again.`,
        );
    }
    const from = snapshot?.version ?? NO_STREAM;
    const raw = await streamEvents(tx.objectStore('events'), stream, from + 1);
    const events = raw.map((record) => this.decodeRecord(record));
    // The actor loads with nothing in flight for its stream: what was read is what is stored.
    const parsed = streamHeadSchema.safeParse(head);
    const version = events.at(-1)?.version ?? from;
    if (parsed.success && parsed.data.version === version)
      this.cache.prime(stream, version, parsed.data.confirmed ?? NO_STREAM);
    return { snapshot, events };
  }

  /** Every event of one stream, in version order (the history view). */
  async readStream(stream: StreamId): Promise<readonly StoredEvent<E>[]> {
    const raw = await streamEvents(this.db.transaction('events').store, stream);
    return raw.map((record) => this.decodeRecord(record));
  }

  /** Events committed after `position`, in order: how a reader follows the whole store. */
  async readAfter(position: number, limit = 1_000): Promise<readonly StoredEvent<E>[]> {
    const raw = await eventsAfter(this.db.transaction('events').store, position, limit);
    return raw.map((record) => this.decodeRecord(record));
  }

  /**
   * The events a command already wrote to `stream`, if it was applied before: how a retried
   * command (its tab re-sent it after the leader went away) is answered instead of applied
   * twice. A retry follows its first try within moments, so it is among the stream's newest
   * events; they are read newest first, at most `window` of them.
   */
  async eventsOfCommand(
    stream: StreamId,
    commandId: string,
    window = 1_000,
  ): Promise<readonly StoredEvent<E>[]> {
    const tail = await streamTail(this.db.transaction('events').store, stream, window);
    const found: unknown[] = [];
    for (const event of [...tail].reverse()) {
      if (event.meta?.command === commandId) found.push(event);
      // A command's events are contiguous: once passed, nothing older is its.
      else if (found.length > 0) break;
    }
    return found.reverse().map((record) => this.decodeRecord(record));
  }

  /** The store's position: the last position written, 0 for an empty store. */
  async position(): Promise<number> {
    return readStoredPosition(unwrap(this.db).transaction(['events', 'meta'], 'readonly'));
  }

  async streamVersion(stream: StreamId): Promise<number> {
    const head = await this.beside(() => this.db.get('streams', stream), { readOnly: true });
    return head?.version ?? NO_STREAM;
  }

  /** All rows of a read model, validated as they are read back; throws on a damaged one. */
  async readView<Row>(projection: Projection<Row>): Promise<readonly Row[]> {
    const { rows, damaged } = await this.inspectView(projection);
    if (damaged[0]) throw damaged[0];
    return rows;
  }

  /**
   * The rows of a read model that are sound, and an error naming each damaged one: how the app
   * still opens with a damaged record, shows the rest, and says what is wrong.
   */
  async inspectView<Row>(
    projection: Projection<Row>,
  ): Promise<{ rows: readonly Row[]; damaged: readonly TallyError[] }> {
    const { rows, damaged } = await this.inspectKeyedView(projection);
    return { rows: rows.map((row) => row.value), damaged };
  }

  /** `inspectView`, with each row's key. */
  async inspectKeyedView<Row>(projection: Projection<Row>): Promise<{
    rows: readonly { readonly key: string; readonly value: Row }[];
    damaged: readonly TallyError[];
  }> {
    const stored = await this.beside(() => this.db.getAll('views', viewRows(projection.view)), {
      readOnly: true,
    });
    const rows: { key: string; value: Row }[] = [];
    const damaged: TallyError[] = [];
    for (const row of stored) {
      const parsed = readRow(projection, row.value);
      if (parsed.success) rows.push({ key: row.key, value: parsed.data });
      else
        damaged.push(
          new TallyError(
            'invalid',
            `The stored ${projection.view} row “${String(row.key).slice(0, 80)}” is damaged: ${parsed.error.issues
              .slice(0, 2)
              .map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`)
              .join('; ')}.`,
          ),
        );
    }
    return { rows, damaged };
  }

  /** A stored event record, validated: the position it was stored at and a decoded envelope. */
  decodeRecord(record: unknown): StoredEvent<E> {
    const position = (record as { position?: unknown } | null)?.position;
    if (typeof position !== 'number' || !Number.isInteger(position) || position < 1)
      throw new TallyError('invalid', 'A stored event has no valid position.');
    // A command's first event also carries the command (`writeAppend`): not part of the event.
    const { position: _, commands: __, ...envelope } = record as Record<string, unknown>;
    return { ...(this.models.decode(envelope) as EventEnvelope<E>), position };
  }
}

/** A request's result; its failure aborts the transaction, whose own failure is awaited too. */
function result<T>(request: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result as T);
    request.onerror = () => reject(request.error ?? new Error('An IndexedDB request failed.'));
  });
}

/**
 * Carries an append plan out on the raw transaction: a failed request aborts it, so awaiting
 * `done` is enough, and thousands of per-request promises are not made.
 */
function writeAppend(
  raw: IDBTransaction,
  plan: AppendPlan,
  damaged: TallyError[],
  options: { readonly behind: boolean; readonly outbox?: boolean },
): void {
  if (plan.events.length === 0) return;
  // Each command's first event carries the command, so what is written behind (its outbox
  // entry) can be made again from the events alone (worker/written-behind.ts).
  const commandOf = new Map<string, readonly unknown[]>();
  for (const entry of plan.outbox) commandOf.set(entry.events[0]!.id, entry.commands);
  // One record for up to 250 events, however many commands (a batch: worker/event-records.ts).
  const events = raw.objectStore('events');
  for (const record of recordsOf(
    plan.events.map((event) => {
      const commands = commandOf.get(event.id);
      return commands === undefined ? event : { ...event, commands };
    }),
  ))
    events.add(record);
  for (const snapshot of plan.snapshots) raw.objectStore('snapshots').put(snapshot);
  // Behind: the events are all it writes; the position they carry is put in `meta` behind them.
  if (options.behind) return;
  writeDecided(
    raw,
    options.outbox === false ? { ...plan, outbox: [] } : plan,
    plan.position,
    (stream) => {
      damaged.push(
        new TallyError(
          'invalid',
          `The stored head of stream ${stream} is damaged; Tally writes nothing to that stream.`,
        ),
      );
      raw.abort();
    },
  );
}
