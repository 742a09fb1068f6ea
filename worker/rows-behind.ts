import { unwrap } from 'idb';
import type { StoredEvent } from '../core/event-store.ts';
import {
  project,
  rowChanges,
  rowKey,
  rowsTouched,
  type Projections,
  type RowChange,
  type RowRef,
} from '../core/projection.ts';
import type { TallyDatabase, ViewRow } from './idb-schema.ts';

/** Past this many rows waiting, they are written at once. */
const MAX_ROWS = 2_000;
/**
 * Past this many events since the rows were last written, they are written at once: what a
 * start after a crash folds again (`recoverRows`) stays bounded.
 */
const MAX_EVENTS = 5_000;
/** Otherwise the rows are written once this long passed without an append committing. */
const IDLE_MS = 250;

/**
 * The read models' rows that append transactions decided, written behind them
 * (docs/architecture.md, "Rows written behind"). An append transaction writes its events (and
 * their outbox rows and heads), not the rows they change: those are kept here and written
 * together, in one transaction of their own, for many appends at once (a counter pressed a
 * thousand times is one row written, not a thousand). `meta` record `rows` holds the position up
 * to which the stored rows are whole; a start folds the events after it again
 * (`recoverRows`), so rows are never missed or doubled, whatever stops the worker.
 *
 * Everyone else who reads or writes rows, or moves the position (a receive, a deletion, an
 * import, a base), does so with no append in flight and these rows written first
 * (`IndexedDBEventStore.beside`), and sets `rows` to the position it leaves.
 */
export class RowsBehind {
  /** Rows of append transactions not yet committed, by their number, oldest first. */
  private readonly inFlight = new Map<number, Map<string, RowChange>>();
  /** Rows of committed appends, not yet written. */
  private readonly waiting = new Map<string, RowChange>();
  /** Rows being written now. */
  private writingRows = new Map<string, RowChange>();
  /** The position of the last committed append's last event. */
  private committedAt = 0;
  /** The position up to which rows are known written (`meta` `rows`). */
  private writtenAt = 0;
  private eventsBehind = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> | undefined;
  /** Transactions that wrote rows; a figure for tests and benchmarks. */
  transactions = 0;

  constructor(
    private readonly db: TallyDatabase,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The store's rows are whole up to `position` (read at open, or written by someone else). */
  wholeAt(position: number): void {
    this.committedAt = Math.max(this.committedAt, position);
    this.writtenAt = Math.max(this.writtenAt, position);
  }

  /** An append transaction numbered `seq` was created; these are the rows it decided. */
  planned(seq: number, rows: readonly RowChange[]): void {
    const map = new Map<string, RowChange>();
    for (const row of rows) map.set(rowKey(row), row);
    this.inFlight.set(seq, map);
  }

  /** The append transaction `seq` committed, its last event at `position`. */
  committed(seq: number, position: number, events: number): void {
    const rows = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    if (rows) for (const [k, row] of rows) this.waiting.set(k, row);
    this.committedAt = Math.max(this.committedAt, position);
    this.eventsBehind += events;
    if (this.waiting.size >= MAX_ROWS || this.eventsBehind >= MAX_EVENTS) this.writeSoon(0);
    else this.writeSoon(IDLE_MS);
  }

  /**
   * The append transaction `seq` failed: it, and every one after it (they were decided on it),
   * wrote nothing; one before it may still commit.
   */
  failed(seq: number): void {
    for (const planned of [...this.inFlight.keys()])
      if (planned >= seq) this.inFlight.delete(planned);
  }

  /**
   * A row's value as the appends created so far leave it, when it is not written yet:
   * `{ value }` (`value` undefined: deleted), or undefined when the store has it.
   */
  lookup(k: string): { readonly value: unknown } | undefined {
    const inFlight = [...this.inFlight.values()];
    for (let i = inFlight.length - 1; i >= 0; i--) {
      const row = inFlight[i]!.get(k);
      if (row) return row;
    }
    return this.waiting.get(k) ?? this.writingRows.get(k);
  }

  /** Rows or positions not written yet. */
  get behind(): boolean {
    return this.waiting.size > 0 || this.committedAt > this.writtenAt || this.writing !== undefined;
  }

  /** Writes after `ms` without another commit (or at once, for 0). */
  private writeSoon(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write().catch(this.onError);
    }, ms);
  }

  /**
   * Writes every row of the appends committed so far, and the position they are whole at, in one
   * transaction. Relaxed durability: the events are on disk already, and rows lost to a crash are
   * folded again at the next start. Resolves once that transaction committed.
   */
  async write(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.waiting.size === 0 && this.committedAt <= this.writtenAt) return;
    const rows = new Map(this.waiting);
    this.waiting.clear();
    const at = this.committedAt;
    const events = this.eventsBehind;
    this.eventsBehind = 0;
    this.writingRows = rows;
    const tx = unwrap(this.db).transaction(['views', 'meta'], 'readwrite', {
      durability: 'relaxed',
    });
    const views = tx.objectStore('views');
    for (const { view, key, value } of rows.values())
      if (value === undefined) views.delete([view, key]);
      else views.put({ view, key, value } satisfies ViewRow);
    tx.objectStore('meta').put({ key: 'rows', position: at });
    this.writing = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () =>
        reject(tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
    }).then(
      () => {
        this.writtenAt = Math.max(this.writtenAt, at);
        this.transactions++;
      },
      (error: unknown) => {
        // Kept to be written again; a row changed meanwhile keeps its newer value.
        for (const [k, row] of rows) if (!this.waiting.has(k)) this.waiting.set(k, row);
        this.eventsBehind += events;
        throw error;
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
      this.writingRows = new Map();
    }
  }

  /** Stops the timer (the database is closing); what was not written is folded at the next start. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * At open, before any view is read: folds the events after the position the stored rows are
 * whole at (appends whose rows were still waiting when the worker stopped) onto the stored
 * rows, with the same `project()` as every writer, and stores the new position, in one strict
 * transaction. A store without the record (written by a build that wrote rows with their events)
 * is whole at its head. Answers the position the rows are whole at.
 */
export async function recoverRows(
  db: TallyDatabase,
  decode: (record: unknown) => StoredEvent,
  projections: Projections,
): Promise<number> {
  const tx = db.transaction(['events', 'views', 'meta'], 'readwrite', { durability: 'strict' });
  const meta = tx.objectStore('meta');
  const [rowsRecord, headRecord] = await Promise.all([meta.get('rows'), meta.get('head')]);
  const head = positionOf(headRecord);
  const whole = rowsRecord === undefined ? head : positionOf(rowsRecord);
  let after = whole;
  const rows = new Map<string, unknown>();
  const changed = new Map<string, RowRef>();
  const read = new Set<string>();
  const damaged = new Set<string>();
  for (;;) {
    const page = await tx.objectStore('events').getAll(IDBKeyRange.lowerBound(after, true), 1_000);
    const last = page.at(-1);
    if (!last) break;
    after = last.position;
    const events: StoredEvent[] = [];
    for (const record of page)
      try {
        events.push(decode(record));
      } catch {
        // A damaged event is left out (its stream does not load, and says so); the rest fold.
      }
    const refs = [...rowsTouched(events, projections.of)].filter(([k]) => !read.has(k));
    const found = await Promise.all(
      refs.map(([, { view, key }]) => tx.objectStore('views').get([view, key])),
    );
    refs.forEach(([k, ref], i) => {
      read.add(k);
      const row = found[i];
      if (!row) return;
      // A damaged row is never written over.
      if (projections.view(ref.view)?.schema.safeParse(row.value).success) rows.set(k, row.value);
      else damaged.add(k);
    });
    project(
      damaged.size === 0
        ? events
        : events.filter(
            (event) =>
              ![...rowsTouched([event], projections.of).keys()].some((k) => damaged.has(k)),
          ),
      projections.of,
      rows,
      changed,
    );
  }
  const at = Math.max(head, after);
  const ops: Promise<unknown>[] = [];
  if (rowsRecord === undefined || at !== whole) {
    const views = tx.objectStore('views');
    for (const { view, key, value } of rowChanges(rows, changed))
      ops.push(value === undefined ? views.delete([view, key]) : views.put({ view, key, value }));
    ops.push(meta.put({ key: 'rows', position: at }));
  }
  await Promise.all([...ops, tx.done]);
  return at;
}

const positionOf = (record: unknown): number => {
  const position = (record as { position?: unknown } | undefined)?.position;
  return typeof position === 'number' && Number.isInteger(position) && position >= 0 ? position : 0;
};
