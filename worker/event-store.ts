import type { Codec } from '../core/codec.ts';
import { NO_STREAM, type EventEnvelope, type StreamId } from '../core/envelope.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type {
  AnyEvent,
  Commit,
  EventStore,
  LoadedStream,
  Rebaser,
  RemoteOutcome,
  Snapshot,
  StoredEvent,
} from '../core/event-store.ts';
import type { Projection } from '../core/projection.ts';
import { unwrap } from 'idb';
import type { TallyDatabase, ViewRow } from './idb-schema.ts';
import { applyRemote } from './remote-apply.ts';

type Pending<E extends AnyEvent> = {
  readonly commit: Commit<E>;
  readonly resolve: (events: readonly StoredEvent<E>[]) => void;
  readonly reject: (error: TallyError) => void;
};

export type CommitListener<E extends AnyEvent> = (events: readonly StoredEvent<E>[]) => void;
/** Told after a rebase rewrote a stream's pending suffix: its versions after `confirmed` changed. */
export type RebaseListener = (stream: StreamId) => void;

export type IndexedDBEventStoreOptions<E extends AnyEvent> = {
  readonly db: TallyDatabase;
  readonly codec: Codec<E>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  readonly projections?: readonly Projection<any, E>[];
  /** Upper bound on commits in one transaction, so one transaction never grows unbounded. */
  readonly maxBatch?: number;
};

const MAX_TRANSACTIONS_IN_FLIGHT = 2;

const viewKey = (view: string, key: string): string => `${view}\u0000${key}`;

const isStreamHead = (head: unknown): boolean => {
  const { version, confirmed } = head as { version?: unknown; confirmed?: unknown };
  return (
    Number.isInteger(version) &&
    (version as number) >= 0 &&
    (confirmed === undefined || (Number.isInteger(confirmed) && (confirmed as number) >= 0))
  );
};

/**
 * The browser's event store over IndexedDB. Appends use group commit: commits that arrive while a
 * transaction is in flight wait and then share the next one, so under load one transaction
 * carries many commits (DESIGN.md §3.5), and each caller is acked only after its transaction
 * has completed (§3.2). The expected-version check runs inside that same transaction (§3.1).
 */
export class IndexedDBEventStore<E extends AnyEvent> implements EventStore<E> {
  private readonly db: TallyDatabase;
  private readonly codec: Codec<E>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  private readonly projections: readonly Projection<any, E>[];
  private readonly maxBatch: number;
  private queue: Pending<E>[] = [];
  private flushing = false;
  private readonly listeners = new Set<CommitListener<E>>();
  private readonly rebaseListeners = new Set<RebaseListener>();
  /** Transactions completed; a figure for benchmarks and tests of group commit. */
  transactions = 0;

  constructor(options: IndexedDBEventStoreOptions<E>) {
    this.db = options.db;
    this.codec = options.codec;
    this.projections = options.projections ?? [];
    this.maxBatch = options.maxBatch ?? 2_000;
  }

  /** Called after every completed transaction with the events it wrote, in position order. */
  onCommit(listener: CommitListener<E>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onRebase(listener: RebaseListener): () => void {
    this.rebaseListeners.add(listener);
    return () => this.rebaseListeners.delete(listener);
  }

  async applyRemote(
    stream: StreamId,
    events: readonly EventEnvelope<E>[],
    rebase: Rebaser<E>,
    options: { readonly recheck?: boolean } = {},
  ): Promise<RemoteOutcome<E>> {
    const { outcome, written } = await applyRemote(
      { db: this.db, decode: (record) => this.decodeRecord(record), projections: this.projections },
      stream,
      events,
      rebase,
      options.recheck === true,
    );
    this.transactions++;
    if (written.length > 0) for (const listener of this.listeners) listener(written);
    if (outcome.type === 'applied' && outcome.rebased)
      for (const listener of this.rebaseListeners) listener(stream);
    return outcome;
  }

  append(commit: Commit<E>): Promise<readonly StoredEvent<E>[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let every commit decided in this task join the first transaction.
        queueMicrotask(() => this.flush());
      }
    });
  }

  /**
   * Keeps up to two transactions in flight. IndexedDB runs readwrite transactions over the same
   * stores in the order they were created, so the second one's version checks see the first
   * one's writes; meanwhile the worker builds the next batch instead of waiting for the disk.
   * If the first fails, the second's expected versions fail with it (nothing is half-written).
   */
  private flush(): void {
    this.flushing = false;
    while (this.queue.length > 0 && this.writing < MAX_TRANSACTIONS_IN_FLIGHT) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.writing++;
      void this.write(batch).finally(() => {
        this.writing--;
        this.flush();
      });
    }
  }

  private writing = 0;

  private async write(batch: readonly Pending<E>[]): Promise<void> {
    const outcome = new Map<Pending<E>, StoredEvent<E>[] | TallyError>();
    const written: StoredEvent<E>[] = [];
    try {
      // Strict: Chromium's default ('relaxed') reports `complete` before the data is flushed,
      // and an ack must mean the events survive a crash (DESIGN.md §3.2). Group commit pays
      // the flush once per batch.
      const tx = this.db.transaction(
        ['events', 'streams', 'snapshots', 'views', 'meta', 'outbox'],
        'readwrite',
        { durability: 'strict' },
      );
      // Writes go on the raw transaction: a failed request aborts it, so awaiting `done` is
      // enough, and thousands of per-request promises are not made.
      const raw = unwrap(tx);
      const streams = [...new Set(batch.map((p) => p.commit.stream))];
      const rowKeys = new Map<string, { view: string; key: string }>();
      for (const { commit } of batch)
        for (const event of commit.events)
          for (const projection of this.projections) {
            const key = projection.key(event);
            if (key !== undefined)
              rowKeys.set(viewKey(projection.view, key), { view: projection.view, key });
          }
      const [headRecord, heads, rows] = await Promise.all([
        tx.objectStore('meta').get('head'),
        Promise.all(streams.map((stream) => tx.objectStore('streams').get(stream))),
        Promise.all(
          [...rowKeys.values()].map(({ view, key }) => tx.objectStore('views').get([view, key])),
        ),
      ]);
      const versions = new Map(
        streams.map((stream, i) => [stream, heads[i]?.version ?? NO_STREAM]),
      );
      const confirmedHeads = new Map(
        streams.map((stream, i) => [stream, heads[i]?.confirmed ?? NO_STREAM]),
      );
      const rowValues = new Map<string, unknown>();
      // Rows read back are an edge too: a damaged one is left exactly as it is, and every commit
      // that would write over it fails instead, naming it.
      const damaged = new Map<string, TallyError>();
      for (const row of rows) {
        if (!row) continue;
        const k = viewKey(row.view, row.key);
        const projection = this.projections.find((p) => p.view === row.view);
        if (projection && !projection.schema.safeParse(row.value).success)
          damaged.set(
            k,
            new TallyError(
              'invalid',
              `The stored ${row.view} row “${row.key.slice(0, 80)}” is damaged; Tally leaves it as it is and writes nothing over it.`,
            ),
          );
        rowValues.set(k, row.value);
      }
      heads.forEach((head, i) => {
        if (head !== undefined && !isStreamHead(head))
          damaged.set(
            `stream\u0000${streams[i]}`,
            new TallyError(
              'invalid',
              `The stored head of stream ${streams[i]} is damaged; Tally writes nothing to that stream.`,
            ),
          );
      });
      const touchedRows = new Set<string>();
      const snapshots = new Map<StreamId, Snapshot>();
      let position = headRecord?.key === 'head' ? headRecord.position : 0;

      for (const pending of batch) {
        const { commit } = pending;
        const harm =
          damaged.get(`stream\u0000${commit.stream}`) ??
          commit.events
            .flatMap((event) =>
              this.projections.map((p) => {
                const key = p.key(event);
                return key === undefined ? undefined : damaged.get(viewKey(p.view, key));
              }),
            )
            .find((error) => error !== undefined);
        if (harm) {
          outcome.set(pending, harm);
          continue;
        }
        const current = versions.get(commit.stream) ?? NO_STREAM;
        if (current !== commit.expectedVersion) {
          outcome.set(
            pending,
            new TallyError(
              'conflict',
              `Stream ${commit.stream} is at version ${current}, not ${commit.expectedVersion}: another writer got there first.`,
            ),
          );
          continue;
        }
        const stored = commit.events.map((event) => ({ ...event, position: ++position }));
        for (const event of stored) {
          raw.objectStore('events').add(event);
          for (const projection of this.projections) {
            const key = projection.key(event);
            if (key === undefined) continue;
            const k = viewKey(projection.view, key);
            rowValues.set(k, projection.apply(rowValues.get(k), event));
            touchedRows.add(k);
          }
        }
        versions.set(commit.stream, commit.expectedVersion + stored.length);
        // Every local command goes to the outbox with its events, in their transaction, synced
        // or not: a device may join a space later, and then everything it made must be pushed
        // and rebased like any other pending command. A row is a few dozen bytes next to the
        // events themselves, and joining never has to guess commands from events.
        if (commit.command)
          raw.objectStore('outbox').add({
            commandId: commit.command.id,
            stream: commit.stream,
            commands: commit.command.commands,
            events: stored.map(({ id, version }) => ({ id, version })),
          });
        if (commit.snapshot) snapshots.set(commit.stream, commit.snapshot);
        outcome.set(pending, stored);
        written.push(...stored);
      }
      if (written.length > 0) {
        for (const stream of streams) {
          const version = versions.get(stream) ?? NO_STREAM;
          // The confirmed head belongs to sync; an append never moves it.
          const confirmed = confirmedHeads.get(stream) ?? NO_STREAM;
          if (version !== NO_STREAM) raw.objectStore('streams').put({ stream, version, confirmed });
        }
        for (const snapshot of snapshots.values()) raw.objectStore('snapshots').put(snapshot);
        for (const k of touchedRows) {
          const { view, key } = rowKeys.get(k)!;
          const value = rowValues.get(k);
          if (value === undefined) raw.objectStore('views').delete([view, key]);
          else raw.objectStore('views').put({ view, key, value } satisfies ViewRow);
        }
        raw.objectStore('meta').put({ key: 'head', position });
      }
      // Must reject if any request rejects; must wait for the transaction itself either way.
      await tx.done;
      this.transactions++;
    } catch (error) {
      const failure =
        error instanceof DOMException && error.name === 'ConstraintError'
          ? new TallyError(
              'conflict',
              'Another writer appended to the same stream; nothing was written.',
              { cause: error },
            )
          : toTallyError(error);
      for (const pending of batch) pending.reject(failure);
      return;
    }
    for (const pending of batch) {
      const result = outcome.get(pending)!;
      if (result instanceof TallyError) pending.reject(result);
      else pending.resolve(result);
    }
    if (written.length > 0) for (const listener of this.listeners) listener(written);
  }

  async load(
    stream: StreamId,
    expected: { model: string; modelVersion: number },
  ): Promise<LoadedStream<E>> {
    const tx = this.db.transaction(['snapshots', 'events'], 'readonly');
    let snapshot = await tx.objectStore('snapshots').get(stream);
    // A snapshot of another model or shape is ignored, never misread: replay is always correct.
    if (
      snapshot &&
      (snapshot.model !== expected.model || snapshot.modelVersion !== expected.modelVersion)
    )
      snapshot = undefined;
    const from = snapshot?.version ?? NO_STREAM;
    const raw = await tx
      .objectStore('events')
      .index('byStream')
      .getAll(IDBKeyRange.bound([stream, from + 1], [stream, Number.MAX_SAFE_INTEGER]));
    return { snapshot, events: raw.map((record) => this.decodeRecord(record)) };
  }

  /** Every event of one stream, in version order (the history view). */
  async readStream(stream: StreamId): Promise<readonly StoredEvent<E>[]> {
    const raw = await this.db.getAllFromIndex(
      'events',
      'byStream',
      IDBKeyRange.bound([stream, 1], [stream, Number.MAX_SAFE_INTEGER]),
    );
    return raw.map((record) => this.decodeRecord(record));
  }

  /** Events committed after `position`, in order: how a reader follows the whole store. */
  async readAfter(position: number, limit = 1_000): Promise<readonly StoredEvent<E>[]> {
    const raw = await this.db.getAll('events', IDBKeyRange.lowerBound(position, true), limit);
    return raw.map((record) => this.decodeRecord(record));
  }

  /** The last position written, 0 for an empty store. */
  async head(): Promise<number> {
    const record = await this.db.get('meta', 'head');
    return record?.key === 'head' ? record.position : 0;
  }

  async streamVersion(stream: StreamId): Promise<number> {
    return (await this.db.get('streams', stream))?.version ?? NO_STREAM;
  }

  /** All rows of a read model, validated as they are read back; throws on a damaged one. */
  async readView<Row>(projection: Projection<Row, E>): Promise<readonly Row[]> {
    const { rows, damaged } = await this.inspectView(projection);
    if (damaged[0]) throw damaged[0];
    return rows;
  }

  /**
   * The rows of a read model that are sound, and an error naming each damaged one: how the app
   * still opens with a damaged record, shows the rest, and says what is wrong.
   */
  async inspectView<Row>(
    projection: Projection<Row, E>,
  ): Promise<{ rows: readonly Row[]; damaged: readonly TallyError[] }> {
    const stored = await this.db.getAllFromIndex('views', 'byView', projection.view);
    const rows: Row[] = [];
    const damaged: TallyError[] = [];
    for (const row of stored) {
      const parsed = projection.schema.safeParse(row.value);
      if (parsed.success) rows.push(parsed.data);
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
    const { position: _, ...envelope } = record as Record<string, unknown>;
    return { ...this.codec.decode(envelope), position };
  }
}
