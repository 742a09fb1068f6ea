import { AggregateRegistry } from '../core/aggregate-registry.ts';
import type { ExecuteResult } from '../core/aggregate-actor.ts';
import {
  counter,
  counterCommandSchema,
  counterStateSchema,
  type CounterCommand,
  type CounterContext,
  type CounterEvent,
  type CounterState,
} from '../core/counter.ts';
import { counterCodec } from '../core/counter-codec.ts';
import { counterList, type CounterRow } from '../core/counter-projections.ts';
import type { StreamId } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import type { EventEnvelope } from '../core/envelope.ts';
import type { RemoteOutcome, StoredEvent } from '../core/event-store.ts';
import { counterCommandsOf } from '../core/sync-legacy-commands.ts';
import type { HistoryEntry } from '../core/engine-api.ts';
import { IndexedDBEventStore, type CommitListener, type RebaseListener } from './event-store.ts';
import { openTallyDB, type TallyDatabase } from './idb-schema.ts';
import { NameIndex } from './name-index.ts';

export type EngineOptions = {
  readonly dbName: string;
  /** This browser profile's id, stamped on every event it decides; made once and kept. */
  readonly device?: string;
  readonly maxResident?: number;
  readonly snapshotEvery?: number;
  /** Called when a newer app version needs the database: this engine must stop writing. */
  readonly onOutdated?: () => void;
};

export type CounterResult = ExecuteResult<CounterEvent>;

/** One history line per event: folds the model's own `evolve`, so the value is never guessed. */
export function historyOf(
  events: readonly StoredEvent<CounterEvent>[],
  start: CounterState = counter.initialState(),
): { entries: HistoryEntry[]; state: CounterState } {
  let state = start;
  const entries = events.map((event): HistoryEntry => {
    state = counter.evolve(state, event);
    return {
      version: event.version,
      type: event.type,
      time: event.meta.time,
      device: event.meta.device,
      value: state.exists ? state.value : 0,
      name: state.exists ? state.name : '',
    };
  });
  return { entries, state };
}

async function deviceId(db: TallyDatabase): Promise<string> {
  const tx = db.transaction('meta', 'readwrite');
  const record = await tx.store.get('device');
  if (record?.key === 'device') return record.device;
  const device = `device-${crypto.randomUUID()}`.slice(0, 40);
  await Promise.all([tx.store.put({ key: 'device', device }), tx.done]);
  return device;
}

/**
 * The engine one browser profile runs: the aggregate registry over the IndexedDB store, the
 * counter read model, and the name index. Everything here is I/O wiring; decisions are the
 * counter model's.
 */
export class CounterEngine {
  private constructor(
    readonly db: TallyDatabase,
    readonly store: IndexedDBEventStore<CounterEvent>,
    readonly registry: AggregateRegistry<
      CounterState,
      CounterCommand,
      CounterEvent,
      CounterContext
    >,
    readonly names: NameIndex,
    readonly device: string,
  ) {}

  static async open(options: EngineOptions): Promise<CounterEngine> {
    const self: { engine?: CounterEngine } = {};
    const db = await openTallyDB(
      options.dbName,
      () => {
        self.engine?.close();
        options.onOutdated?.();
      },
      counterCommandsOf,
    );
    const store = new IndexedDBEventStore<CounterEvent>({
      db,
      codec: counterCodec,
      projections: [counterList],
    });
    const device = options.device ?? (await deviceId(db));
    const names = new NameIndex();
    // A damaged row must not keep the app from opening: the sound rows are used, the damaged
    // ones named (`damage`) and left untouched.
    const { rows, damaged } = await store.inspectView(counterList);
    for (const row of rows) names.set(row.id, row.name);
    const registry = new AggregateRegistry({
      decider: counter,
      store,
      device,
      maxResident: options.maxResident,
      snapshotEvery: options.snapshotEvery,
      schemaOf: (type) => counterCodec.schemaOf(type),
      context: names.contextFor,
      onState: names.onState,
      parseCommands: (raw) => raw.map((command) => counterCommandSchema.parse(command)),
      label: (state, commands) =>
        state.exists ? state.name : commands.find((command) => command.type === 'create')?.name,
      validateState: (state) => {
        const parsed = counterStateSchema.safeParse(state);
        if (!parsed.success) throw new TallyError('invalid', 'A stored snapshot is malformed.');
        return parsed.data;
      },
    });
    const engine = new CounterEngine(db, store, registry, names, device);
    engine.damage = damaged.map((error) => error.message);
    // Two devices offline gave two counters one name: the one still pending is re-decided, so
    // its create (or rename) is rejected after sync instead of leaving a duplicate.
    names.onCollision = (displaced) => {
      if (engine.closed) return;
      const recheck = registry
        .applyRemote(displaced, [], { recheck: true })
        .catch(() => undefined)
        .finally(() => engine.rechecks.delete(recheck));
      engine.rechecks.add(recheck);
    };
    self.engine = engine;
    return engine;
  }

  /** What was found damaged in storage when the engine opened, in words. */
  damage: readonly string[] = [];

  private closed_ = false;
  /** Streams being re-decided because remote events took a name they use. */
  private readonly rechecks = new Set<Promise<unknown>>();

  get closed(): boolean {
    return this.closed_;
  }

  /**
   * The server's events for one stream, through its actor's mailbox (DESIGN.md §4). With
   * `recheck`, the stream's pending commands are re-decided even without new events.
   */
  async applyRemote(
    stream: StreamId,
    events: readonly EventEnvelope<CounterEvent>[],
    recheck = false,
  ): Promise<RemoteOutcome<CounterEvent>> {
    if (this.closed_)
      throw new TallyError('outdated', 'A newer version of Tally is running: reload this tab.');
    this.inFlight++;
    try {
      const outcome = await this.registry.applyRemote(stream, events, { recheck });
      // Re-checks these events caused are part of applying them: a push must not overtake them.
      while (this.rechecks.size > 0) await Promise.allSettled([...this.rechecks]);
      await this.settleDuplicateNames();
      return outcome;
    } finally {
      if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /**
   * Two devices that were both offline can each create a counter of one name and push it before
   * hearing of the other: the server checks versions per stream, so both are accepted. Every
   * device then settles it the same way: the counter created first (time, then id) keeps the
   * name, the other is renamed like `Milk (2)`. Should two devices both rename it, the second
   * rename is re-run on sync, finds the name already changed, and writes nothing.
   */
  private settleDuplicateNames(): Promise<void> {
    // One at a time: two runs side by side would both rename the same counter.
    const run = this.settling.then(() => this.settleDuplicateNamesNow());
    this.settling = run.catch(() => undefined);
    return run;
  }

  private settling: Promise<void> = Promise.resolve();

  private async settleDuplicateNamesNow(): Promise<void> {
    const duplicates = this.names.duplicates();
    if (duplicates.length === 0) return;
    const rows = new Map((await this.inspectCounters()).rows.map((row) => [row.id, row]));
    for (const [, holders] of duplicates) {
      const ranked = holders
        .map((id) => rows.get(id))
        .filter((row) => row !== undefined)
        .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
      for (const row of ranked.slice(1)) {
        const result = await this.execute(row.id, {
          type: 'rename',
          name: this.names.freeName(row.name),
        });
        if (result.type === 'rejected')
          console.warn(`Tally: could not rename ${row.id}: ${result.reason}`);
      }
    }
  }

  onRebase(listener: RebaseListener): () => void {
    return this.store.onRebase(listener);
  }
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  async execute(
    stream: StreamId,
    commands: CounterCommand | readonly CounterCommand[],
    commandId?: string,
  ): Promise<CounterResult> {
    if (this.closed_)
      throw new TallyError('outdated', 'A newer version of Tally is running: reload this tab.');
    this.inFlight++;
    try {
      return await this.registry.execute(stream, commands, { commandId });
    } finally {
      if (--this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /**
   * Stops taking commands and resolves once every command already taken is acked or failed:
   * how an engine hands over to a newer one without losing a command.
   */
  async stop(): Promise<void> {
    this.closed_ = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.db.close();
  }

  /** The counters whose rows are sound, and an error for each damaged row. */
  inspectCounters() {
    return this.store.inspectView(counterList);
  }

  listCounters(): Promise<readonly CounterRow[]> {
    return this.store.readView(counterList);
  }

  async history(stream: StreamId): Promise<readonly HistoryEntry[]> {
    return historyOf(await this.store.readStream(stream)).entries;
  }

  /**
   * The events a command already wrote to `stream`, if it was applied before: how a retried
   * command (its tab re-sent it after the leader went away) is answered instead of applied
   * twice. A retry follows its first try within moments, so the stream's newest events are
   * where it is; they are read newest first, at most `window` of them.
   */
  async eventsOfCommand(
    stream: StreamId,
    commandId: string,
    window = 1_000,
  ): Promise<readonly StoredEvent<CounterEvent>[]> {
    const tx = this.db.transaction('events', 'readonly');
    const found: unknown[] = [];
    let cursor = await tx.store
      .index('byStream')
      .openCursor(IDBKeyRange.bound([stream, 1], [stream, Number.MAX_SAFE_INTEGER]), 'prev');
    for (let seen = 0; cursor && seen < window; seen++) {
      const value = cursor.value as { meta?: { command?: unknown } };
      if (value.meta?.command === commandId) found.push(cursor.value);
      // A command's events are contiguous: once passed, nothing older is its.
      else if (found.length > 0) break;
      cursor = await cursor.continue();
    }
    await tx.done;
    return found.reverse().map((record) => this.store.decodeRecord(record));
  }

  onCommit(listener: CommitListener<CounterEvent>): () => void {
    return this.store.onCommit(listener);
  }

  readAfter(position: number, limit?: number): Promise<readonly StoredEvent<CounterEvent>[]> {
    return this.store.readAfter(position, limit);
  }

  close(): void {
    this.closed_ = true;
    this.db.close();
  }
}
