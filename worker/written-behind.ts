import { unwrap, type IDBPTransaction } from 'idb';
import { streamHeadSchema, type OutboxEntry, type StreamHead } from '../core/append-plan.ts';
import type { StoredEvent } from '../core/event-store.ts';
import {
  project,
  readRow,
  rowChanges,
  rowKey,
  rowsTouched,
  type Projections,
  type RowChange,
  type RowRef,
} from '../core/projection.ts';
import { completion, type TallyDB, type TallyDatabase, type ViewRow } from './idb-schema.ts';
import { followCommand, type RecoveredEvent } from '../core/outbox-rebuild.ts';
import { positionOf, readStoredPosition } from '../browser/stored-reads.ts';
import { eventsAfter } from './event-records.ts';

/** Past this many rows or heads waiting, they are written at once. */
export const MAX_RECORDS = 2_000;
/**
 * Past this many events since the records were last written, they are written at once: what a
 * start after a crash folds again (`recoverBehind`) stays bounded.
 */
export const MAX_EVENTS = 5_000;
/** Otherwise they are written once this long passed without an append committing. */
const IDLE_MS = 250;
/** Past this many streams, what is known of their stored heads is forgotten (read again). */
const MAX_KNOWN_HEADS = 10_000;

/** What of the outbox and the confirmed versions is still behind the appends. */
export type Unwritten = {
  /** The outbox entries of committed appends not stored yet, in commit order. */
  readonly outbox: readonly OutboxEntry[];
  /**
   * How many of the first ones are being written: a transaction created now finds them stored
   * too once that write commits (the same command, by stream and command id), or not at all.
   */
  readonly maybeStored: number;
  /** Confirmed versions accepted pushes raised, not stored yet, by stream. */
  readonly confirmed: ReadonlyMap<string, number>;
  /** The events an entry of `outbox` names, as its append decided them (in version order). */
  eventsOf(entry: OutboxEntry): readonly StoredEvent[] | undefined;
};

/** What one append transaction decided beside its events. */
type Decided = {
  readonly rows: Map<string, RowChange>;
  readonly heads: Map<string, StreamHead>;
  /** In commit order; appended to while it waits. */
  readonly outbox: OutboxEntry[];
  /**
   * Streams whose confirmed version an accepted push raised (`confirmPushed`), to that
   * version: written into their stored heads.
   */
  readonly confirmed: Map<string, number>;
  /** In flight: the position of its last event. */
  readonly position?: number;
};

/**
 * What append transactions decide beside their events, written behind them
 * (docs/architecture.md, "Written behind the appends"): each stream's head, each command's
 * outbox entry and the read models' rows. An append transaction writes only its events (each
 * command's first event carries the command itself); the rest is kept here and written together,
 * in one relaxed transaction of its own, for many appends at once (a counter pressed a thousand
 * times is one head and one row written, not a thousand). `meta` record `whole` holds the
 * position up to which the stored heads, outbox and rows are whole; a start folds the events
 * after it again (`recoverBehind`), so nothing is missed or doubled, whatever stops the worker.
 *
 * Everyone else who reads or writes these records, or moves the position (a receive, a push, a
 * deletion, an import, a base, leaving a space), does so with no append in flight and this
 * written first (`IndexedDBEventStore.beside`), and sets `whole` to the position it leaves.
 */
export class WrittenBehind {
  /** What append transactions not yet committed decided, by their number, oldest first. */
  private readonly inFlight = new Map<number, Decided>();
  /** What committed appends decided, not yet written. */
  private waiting: Decided = empty();
  /** What is being written now. */
  private writingNow: Decided = empty();
  /** The position of the last committed append's last event. */
  private committedAt = 0;
  /** The position up to which the records are known written (`meta` `whole`). */
  private writtenAt = 0;
  private eventsBehind = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  /** Transactions that wrote what was behind; a figure for tests and benchmarks. */
  transactions = 0;
  /** Heads read back to be merged with before being written; a figure for tests. */
  headsRead = 0;
  /** Moves whenever another writer begins beside the appends (`othersWrite`). */
  private others = 0;
  /**
   * Changes whenever a write of outbox entries starts or ends: a read of the stored outbox
   * knows it is still what it read only while this stays the same.
   */
  outboxWrites = 0;
  /**
   * The confirmed version each stream's stored head holds, where this writer knows it: a stream
   * the appends made (no head stored: 0), or one whose head it wrote itself, without a base.
   * Such a head is written without reading the stored one first. Forgotten whenever another
   * writer may write heads (`othersWrite`), and past `MAX_KNOWN_HEADS` streams.
   */
  private readonly storedConfirmed = new Map<string, number>();
  /** The events of each kept entry (for a push from memory), held while the entry is. */
  private readonly eventsOfEntry = new WeakMap<OutboxEntry, readonly StoredEvent[]>();
  /**
   * Whether appends keep their commands' outbox entries: only once a space is stored, or is
   * being stored (docs/architecture.md, "Pending commands only while syncing"). Before, each
   * command's first event carries its commands, and the outbox is made from the events when
   * sync starts (worker/outbox.ts). Changed only beside the appends.
   */
  keepsOutbox = true;

  constructor(
    private readonly db: TallyDatabase,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The store is whole up to `position` (read at open). */
  wholeAt(position: number): void {
    this.committedAt = Math.max(this.committedAt, position);
    this.writtenAt = Math.max(this.writtenAt, position);
  }

  /**
   * An append transaction numbered `seq` was created; this is what it decided. `fresh` are the
   * streams it starts that have no head stored (the store knew every stream when it was asked).
   */
  planned(
    seq: number,
    plan: {
      readonly rows: readonly RowChange[];
      readonly heads: readonly StreamHead[];
      readonly outbox: readonly OutboxEntry[];
      readonly events: readonly StoredEvent[];
      /** The position of its last event. */
      readonly position: number;
    },
    fresh: readonly string[] = [],
  ): void {
    for (const stream of fresh) if (!this.storedConfirmed.has(stream)) this.knowStored(stream, 0);
    const rows = new Map<string, RowChange>();
    for (const row of plan.rows) rows.set(rowKey(row), row);
    const heads = new Map<string, StreamHead>();
    for (const head of plan.heads) heads.set(head.stream, head);
    const outbox = this.keepsOutbox ? [...plan.outbox] : [];
    if (outbox.length > 0) {
      const byId = new Map(plan.events.map((event) => [event.id, event]));
      for (const entry of outbox) {
        const events = entry.events.map(({ id }) => byId.get(id));
        if (events.every((event) => event !== undefined)) this.eventsOfEntry.set(entry, events);
      }
    }
    this.inFlight.set(seq, { rows, heads, outbox, confirmed: new Map(), position: plan.position });
  }

  /** The append transaction `seq` committed, its last event at `position`. */
  committed(seq: number, position: number, events: number): void {
    const decided = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    if (decided) {
      for (const [k, row] of decided.rows) this.waiting.rows.set(k, row);
      for (const [stream, head] of decided.heads) this.waiting.heads.set(stream, head);
      this.waiting.outbox.push(...decided.outbox);
    }
    this.committedAt = Math.max(this.committedAt, position);
    this.eventsBehind += events;
    const records = Math.max(this.waiting.rows.size, this.waiting.heads.size);
    this.writeSoon(records >= MAX_RECORDS || this.eventsBehind >= MAX_EVENTS ? 0 : IDLE_MS);
  }

  /**
   * Another writer is about to write beside the appends (a receive, a base, a deletion, an
   * import, leaving a space): it may write heads, so what is known of the stored ones is no more.
   */
  othersWrite(): void {
    this.others++;
    this.storedConfirmed.clear();
  }

  /** Moves whenever another writer begins: a stream new before it may not be new after. */
  get othersEpoch(): number {
    return this.others;
  }

  private knowStored(stream: string, confirmed: number): void {
    if (this.storedConfirmed.size >= MAX_KNOWN_HEADS && !this.storedConfirmed.has(stream))
      this.storedConfirmed.clear();
    this.storedConfirmed.set(stream, confirmed);
  }

  /**
   * The position of the last event of the last append transaction decided and not yet known to
   * have committed or failed: an append that reads a head or a row from it is decided on it, so
   * it may commit only after that one did (`IndexedDBEventStore.write`).
   */
  lastInFlight(): number | undefined {
    let last: number | undefined;
    for (const seq of this.inFlight.keys()) if (last === undefined || seq > last) last = seq;
    return last === undefined ? undefined : this.inFlight.get(last)!.position;
  }

  /**
   * The append transaction `seq` failed: it, and every one after it (they were decided on it),
   * wrote nothing; one before it may still commit.
   */
  failed(seq: number): void {
    for (const planned of [...this.inFlight.keys()])
      if (planned >= seq) this.inFlight.delete(planned);
  }

  /** Newest first: transactions in flight, then those committed, then what is being written. */
  private *layers(): Iterable<Decided> {
    const inFlight = [...this.inFlight.values()];
    for (let i = inFlight.length - 1; i >= 0; i--) yield inFlight[i]!;
    yield this.waiting;
    yield this.writingNow;
  }

  /**
   * A row's value as the appends created so far leave it, when it is not written yet:
   * `{ value }` (`value` undefined: deleted), or undefined when the store has it.
   */
  row(k: string): { readonly value: unknown } | undefined {
    for (const layer of this.layers()) {
      const row = layer.rows.get(k);
      if (row) return row;
    }
    return undefined;
  }

  /** A stream's head as the appends created so far leave it, when it is not written yet. */
  head(stream: string): StreamHead | undefined {
    for (const layer of this.layers()) {
      const head = layer.heads.get(stream);
      if (head) return head;
    }
    return undefined;
  }

  /**
   * What a transaction created now does not see of the outbox and the confirmed versions: the
   * entries being written first (it sees them stored once that write commits, but not if it
   * fails: then they wait here again, and a read must not miss them meanwhile), then those
   * waiting; the versions accepted pushes raised, being written (likewise) or waiting.
   */
  unwritten(): Unwritten {
    const confirmed = new Map(this.writingNow.confirmed);
    for (const [stream, version] of this.waiting.confirmed)
      confirmed.set(stream, Math.max(confirmed.get(stream) ?? 0, version));
    return {
      outbox: [...this.writingNow.outbox, ...this.waiting.outbox],
      maybeStored: this.writingNow.outbox.length,
      confirmed,
      eventsOf: (entry) => this.eventsOfEntry.get(entry),
    };
  }

  /**
   * The server accepted a push of `stream` with these events: when every one of them belongs to
   * a command whose outbox entry is waiting here (committed, not written yet), whole and with
   * these very ids at these versions, they are confirmed here, in memory: the entries go without
   * ever being written, and the stream's confirmed version is raised (written with what is
   * behind, `confirmed`). Answers false, changing nothing, otherwise (an entry already written,
   * being written, or rewritten by a rebase meanwhile): the caller then receives them as usual.
   * A crash before the write loses only this: the start makes the entries again from the events,
   * and the next push is answered `accepted` again (the server knows them).
   */
  confirmPushed(stream: string, events: readonly { id: string; version: number }[]): boolean {
    const sent = new Map(events.map(({ id, version }) => [version, id]));
    if (sent.size === 0 || sent.size !== events.length) return false;
    const matched = new Set<OutboxEntry>();
    let covered = 0;
    for (const entry of this.waiting.outbox) {
      if (entry.stream !== stream) continue;
      const inPush = entry.events.filter(({ version }) => sent.has(version));
      if (inPush.length === 0) continue;
      if (
        inPush.length !== entry.events.length ||
        inPush.some(({ id, version }) => sent.get(version) !== id)
      )
        return false;
      matched.add(entry);
      covered += inPush.length;
    }
    if (covered !== sent.size) return false;
    const outbox = this.waiting.outbox;
    for (let i = outbox.length - 1; i >= 0; i--) if (matched.has(outbox[i]!)) outbox.splice(i, 1);
    const last = Math.max(...sent.keys());
    // Only here: a head's own confirmed version is never written (`writeDecided` merges every
    // head with the stored one and this), nor read by anyone but an append, which passes it on.
    this.waiting.confirmed.set(stream, Math.max(this.waiting.confirmed.get(stream) ?? 0, last));
    return true;
  }

  /** A stream's confirmed version as raised in memory and not yet stored (0: none). */
  confirmedOf(stream: string): number {
    return Math.max(
      this.waiting.confirmed.get(stream) ?? 0,
      this.writingNow.confirmed.get(stream) ?? 0,
    );
  }

  /** Every stream whose head is not written yet. */
  streams(): Set<string> {
    const streams = new Set<string>();
    for (const layer of this.layers()) for (const stream of layer.heads.keys()) streams.add(stream);
    return streams;
  }

  /** Writes after `ms` without another commit (or at once, for 0). */
  private writeSoon(ms: number): void {
    const due = performance.now() + ms;
    if (this.timer !== undefined) {
      if (this.immediate) return;
      // A later commit moves the time only: the timer is not made again for every commit (its
      // callback waits out what is left).
      if (ms > 0) {
        this.dueAt = due;
        return;
      }
      clearTimeout(this.timer);
    }
    this.dueAt = due;
    this.immediate = ms === 0;
    this.timer = setTimeout(this.due, ms);
  }

  /** When the pending write is due (`writeSoon`); whether it was asked for at once. */
  private dueAt = 0;
  private immediate = false;

  private readonly due = () => {
    this.timer = undefined;
    const left = this.dueAt - performance.now();
    if (!this.immediate && left >= 1) {
      this.timer = setTimeout(this.due, left);
      return;
    }
    this.immediate = false;
    this.write().catch(this.onError);
  };

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = false;
  }

  /**
   * Writes what the appends committed so far decided, and the position it is whole at, in one
   * transaction. Relaxed durability: the events are on disk already, and what a crash loses is
   * folded again at the next start. Resolves once that transaction committed.
   */
  async write(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
    this.clearTimer();
    const decided = this.waiting;
    if (isEmpty(decided) && this.committedAt <= this.writtenAt) return;
    this.waiting = empty();
    const at = this.committedAt;
    const events = this.eventsBehind;
    this.eventsBehind = 0;
    this.writingNow = decided;
    const writesOutbox = decided.outbox.length > 0;
    if (writesOutbox) this.outboxWrites++;
    const tx = unwrap(this.db).transaction(['views', 'streams', 'outbox', 'meta'], 'readwrite', {
      durability: 'relaxed',
    });
    // A damaged stored head is left as it is (the stream says so when it is used).
    const written: StreamHead[] = [];
    // Writes of what is behind go one at a time: only another writer can change what it wrote.
    const others = this.others;
    this.headsRead += writeDecided(
      tx,
      {
        rows: decided.rows.values(),
        heads: decided.heads.values(),
        outbox: decided.outbox,
        confirmed: decided.confirmed,
      },
      at,
      () => undefined,
      { stored: this.storedConfirmed, written },
    );
    this.writing = completion(tx).then(
      () => this.wrote(written, others, at),
      (error: unknown) => {
        this.keepAgain(decided, events);
        throw error;
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
      this.writingNow = empty();
      if (writesOutbox) this.outboxWrites++;
    }
  }

  /** A write of what was behind committed: `written` heads are what is stored now. */
  private wrote(written: readonly StreamHead[], others: number, at: number): void {
    // What it wrote is what is stored, unless another writer began since it was created.
    if (others === this.others)
      for (const head of written)
        if (head.base) this.storedConfirmed.delete(head.stream);
        else this.knowStored(head.stream, head.confirmed ?? 0);
    this.writtenAt = Math.max(this.writtenAt, at);
    this.transactions++;
    this.writingNow = empty();
  }

  /**
   * A write of what was behind failed: what it held is kept to be written again, and no longer
   * being written, in the same step (a read meanwhile sees each entry once). What changed
   * meanwhile keeps its newer value; outbox entries keep their order.
   */
  private keepAgain(decided: Decided, events: number): void {
    this.writingNow = empty();
    for (const [k, row] of decided.rows)
      if (!this.waiting.rows.has(k)) this.waiting.rows.set(k, row);
    for (const [stream, head] of decided.heads)
      if (!this.waiting.heads.has(stream)) this.waiting.heads.set(stream, head);
    this.waiting.outbox.unshift(...decided.outbox);
    for (const [stream, version] of decided.confirmed)
      this.waiting.confirmed.set(
        stream,
        Math.max(this.waiting.confirmed.get(stream) ?? 0, version),
      );
    this.eventsBehind += events;
  }

  /** Stops the timer (the database is closing); what was not written is folded at the next start. */
  stop(): void {
    this.clearTimer();
  }
}

const empty = (): Decided => ({
  rows: new Map(),
  heads: new Map(),
  outbox: [],
  confirmed: new Map(),
});

/** Nothing decided: no row, head, outbox entry or confirmed version. */
const isEmpty = (decided: Decided): boolean =>
  decided.rows.size === 0 &&
  decided.heads.size === 0 &&
  decided.outbox.length === 0 &&
  decided.confirmed.size === 0;

/**
 * Writes what appends decided beside their events on the raw transaction, and `whole` and
 * `head` at `position`: behind them (`WrittenBehind.write`), or with them (an import, `writeAppend`). The
 * confirmed head belongs to sync, which also lowers it when a device leaves its space: a head
 * with a confirmed version takes it (and a base) from the stored record, raised to what an
 * accepted push confirmed in memory (`confirmed`, which also raises the stored head of a stream
 * with no head here); a stored head that is damaged goes to `onDamaged`, and nothing is written
 * over it.
 */
export function writeDecided(
  tx: IDBTransaction,
  decided: {
    readonly rows: Iterable<RowChange>;
    readonly heads: Iterable<StreamHead>;
    readonly outbox: readonly OutboxEntry[];
    readonly confirmed?: ReadonlyMap<string, number>;
  },
  position: number,
  onDamaged: (stream: string) => void,
  known?: {
    /** The confirmed version of stored heads known without a read (0: none stored). */
    readonly stored: ReadonlyMap<string, number>;
    /** Every head put, as put. */
    readonly written: StreamHead[];
  },
): number {
  const views = tx.objectStore('views');
  for (const { view, key, value } of decided.rows)
    if (value === undefined) views.delete([view, key]);
    else views.put({ view, key, value } satisfies ViewRow);
  const streams = tx.objectStore('streams');
  const raised = decided.confirmed ?? new Map<string, number>();
  let read = 0;
  const put = (head: StreamHead) => {
    streams.put(head);
    known?.written.push(head);
  };
  const merge = (stream: string, head: StreamHead | undefined) => {
    const up = raised.get(stream) ?? 0;
    const confirmed = known?.stored.get(stream);
    // Known without a read: no head stored (0), or one this writer wrote, without a base.
    if (head && confirmed !== undefined)
      return put({ ...head, confirmed: Math.max(confirmed, up) });
    read++;
    const stored = streams.get(stream);
    stored.onsuccess = () => {
      // Never written yet: only a push accepted since can have confirmed any of it.
      if (stored.result === undefined) {
        if (head) put({ ...head, confirmed: up });
        return;
      }
      const parsed = streamHeadSchema.safeParse(stored.result);
      if (!parsed.success) return onDamaged(stream);
      put({
        ...(head ?? parsed.data),
        confirmed: Math.max(parsed.data.confirmed ?? 0, up),
        ...(parsed.data.base ? { base: parsed.data.base } : {}),
      });
    };
  };
  // Every head is merged with the stored one: an append may have decided on a copy read before
  // a push was confirmed in memory, and its confirmed version is never the one to keep.
  const withHead = new Set<string>();
  for (const head of decided.heads) {
    withHead.add(head.stream);
    merge(head.stream, head);
  }
  for (const stream of raised.keys()) if (!withHead.has(stream)) merge(stream, undefined);
  const outbox = tx.objectStore('outbox');
  for (const entry of decided.outbox) outbox.add(entry);
  const meta = tx.objectStore('meta');
  meta.put({ key: 'whole', position });
  // Appends write only their events: the store's position is kept here (`readStoredPosition`).
  meta.put({ key: 'head', position });
  return read;
}

/**
 * At open, before anything is read: folds the events after the position the store is whole at
 * (appends whose heads, outbox entries and rows were still behind when the worker stopped) into
 * them, with the same `project()` as every writer, and stores the new position, in one strict
 * transaction. A store without the record (written by a build that wrote them with the events)
 * is whole at its head. Answers the position it is whole at, and whether a space is stored (the
 * outbox is kept only then: `WrittenBehind.keepsOutbox`; a damaged record counts as stored).
 */
export async function recoverBehind(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent,
  projections: Projections,
): Promise<{ readonly whole: number; readonly syncing: boolean }> {
  const { wholeAt, syncing } = await readWhole(db);
  if (wholeAt !== undefined) return { whole: wholeAt, syncing };
  const tx = db.transaction(['events', 'views', 'streams', 'outbox', 'meta'], 'readwrite', {
    durability: 'strict',
  });
  const [wholeRecord, position] = await Promise.all([
    tx.objectStore('meta').get('whole'),
    readStoredPosition(unwrap(tx)),
  ]);
  const whole = wholeRecord === undefined ? position : positionOf(wholeRecord);
  const fold = emptyFold();
  const after = await foldEventsAfter(tx, whole, { syncing, decode, projections }, fold);
  const at = Math.max(position, after);
  const ops = wholeRecord === undefined || at !== whole ? await writeFold(tx, fold, at) : [];
  await Promise.all([...ops, tx.done]);
  return { whole: at, syncing };
}

/**
 * Almost always whole: found so by a read, without a write transaction on the way of the start.
 * `wholeAt` is the position when the store is whole at its position, else undefined.
 */
async function readWhole(
  db: TallyDatabase,
): Promise<{ readonly wholeAt: number | undefined; readonly syncing: boolean }> {
  const reading = db.transaction(['events', 'meta'], 'readonly');
  const [wholeAt, position, sync] = await Promise.all([
    reading.objectStore('meta').get('whole'),
    readStoredPosition(unwrap(reading)),
    reading.objectStore('meta').getKey('sync'),
  ]);
  const whole = wholeAt !== undefined && positionOf(wholeAt) >= position;
  return { wholeAt: whole ? positionOf(wholeAt) : undefined, syncing: sync !== undefined };
}

type RecoverTransaction = IDBPTransaction<
  TallyDB,
  ('events' | 'views' | 'streams' | 'outbox' | 'meta')[],
  'readwrite'
>;

/** What the start's fold of the events behind made of them so far. */
type Fold = {
  /** Each row the events touched, as it is after them (absent: no row). */
  readonly rows: Map<string, unknown>;
  readonly changed: Map<string, RowRef>;
  /** The rows read from the store already, and those found damaged (never written over). */
  readonly read: Set<string>;
  readonly damaged: Set<string>;
  /** Each stream's last version among the events. */
  readonly versions: Map<string, number>;
  readonly outbox: OutboxEntry[];
};

const emptyFold = (): Fold => ({
  rows: new Map(),
  changed: new Map(),
  read: new Set(),
  damaged: new Set(),
  versions: new Map(),
  outbox: [],
});

type FoldWith = {
  readonly syncing: boolean;
  readonly decode: (record: unknown) => StoredEvent;
  readonly projections: Projections;
};

/** Folds the events after `whole` a page at a time into `fold`; answers the last one's position. */
async function foldEventsAfter(
  tx: RecoverTransaction,
  whole: number,
  how: FoldWith,
  fold: Fold,
): Promise<number> {
  let after = whole;
  for (;;) {
    // A damaged batch is skipped, as a damaged event is below.
    const page = await eventsAfter(tx.objectStore('events'), after, 1_000, { lenient: true });
    const last = page.at(-1);
    if (!last) return after;
    after = last.position;
    const events = foldRecords(page as unknown as RecoveredEvent[], how, fold);
    await projectFolded(tx, events, how.projections, fold);
  }
}

/**
 * Notes a page's records' versions and outbox entries (kept only while syncing: with no space
 * stored, the commands stay on the events), and answers its events decoded: a damaged event is
 * left out of the rows (its stream does not load, and says so).
 */
function foldRecords(
  records: readonly RecoveredEvent[],
  { syncing, decode }: FoldWith,
  { versions, outbox }: Fold,
): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const record of records) {
    if (typeof record.stream !== 'string' || !Number.isInteger(record.version)) continue;
    versions.set(record.stream, Math.max(versions.get(record.stream) ?? 0, record.version));
    if (syncing) followCommand(outbox, record);
    try {
      events.push(decode(record));
    } catch {
      // Left out of the rows.
    }
  }
  return events;
}

/** Reads the rows `events` touch that were not read yet, then projects the events onto them. */
async function projectFolded(
  tx: RecoverTransaction,
  events: readonly StoredEvent[],
  projections: Projections,
  { rows, changed, read, damaged }: Fold,
): Promise<void> {
  const refs = [...rowsTouched(events, projections.of)].filter(([k]) => !read.has(k));
  const found = await Promise.all(
    refs.map(([, { view, key }]) => tx.objectStore('views').get([view, key])),
  );
  refs.forEach(([k, ref], i) => {
    read.add(k);
    const row = found[i];
    if (!row) return;
    // A damaged row is never written over.
    const projection = projections.view(ref.view);
    if (projection && readRow(projection, row.value).success) rows.set(k, row.value);
    else damaged.add(k);
  });
  project(
    damaged.size === 0
      ? events
      : events.filter(
          (event) => ![...rowsTouched([event], projections.of).keys()].some((k) => damaged.has(k)),
        ),
    projections.of,
    rows,
    changed,
  );
}

/**
 * Writes what the fold made: each stream's head at its last version (a damaged head is left as
 * it is: the stream says so when used), the outbox entries, the rows, and the position `at` as
 * both where the store is whole and its head. Answers the writes' requests.
 */
async function writeFold(
  tx: RecoverTransaction,
  { versions, outbox, rows, changed }: Fold,
  at: number,
): Promise<Promise<unknown>[]> {
  const ops: Promise<unknown>[] = [];
  const streams = [...versions];
  const heads = await Promise.all(streams.map(([stream]) => tx.objectStore('streams').get(stream)));
  streams.forEach(([stream, version], i) => {
    const stored = heads[i];
    if (stored === undefined) {
      ops.push(tx.objectStore('streams').put({ stream, version, confirmed: 0 }));
      return;
    }
    const parsed = streamHeadSchema.safeParse(stored);
    if (parsed.success && parsed.data.version < version)
      ops.push(tx.objectStore('streams').put({ ...parsed.data, version }));
  });
  for (const entry of outbox) ops.push(tx.objectStore('outbox').add(entry));
  const views = tx.objectStore('views');
  for (const { view, key, value } of rowChanges(rows, changed))
    ops.push(value === undefined ? views.delete([view, key]) : views.put({ view, key, value }));
  const meta = tx.objectStore('meta');
  ops.push(meta.put({ key: 'whole', position: at }));
  ops.push(meta.put({ key: 'head', position: at }));
  return ops;
}
