import { AggregateRegistry } from '../core/aggregate-registry.ts';
import type { ExecuteResult } from '../core/aggregate-actor.ts';
import {
  counter,
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
import type { StoredEvent } from '../core/event-store.ts';
import { IndexedDBEventStore, type CommitListener } from './event-store.ts';
import { openTallyDB, type TallyDatabase } from './idb-schema.ts';
import { NameIndex } from './name-index.ts';

export type EngineOptions = {
  readonly dbName: string;
  /** This browser profile's id, stamped on every event it decides. */
  readonly device: string;
  readonly maxResident?: number;
  readonly snapshotEvery?: number;
  /** Called when a newer app version needs the database: this engine must stop writing. */
  readonly onOutdated?: () => void;
};

export type HistoryEntry = {
  readonly version: number;
  readonly type: CounterEvent['type'];
  readonly data: CounterEvent['data'];
  readonly time: number;
  readonly device: string;
  /** The counter's value right after this event. */
  readonly value: number;
  readonly name: string;
};

export type CounterResult = ExecuteResult<CounterEvent>;

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
  ) {}

  static async open(options: EngineOptions): Promise<CounterEngine> {
    const self: { engine?: CounterEngine } = {};
    const db = await openTallyDB(options.dbName, () => {
      self.engine?.close();
      options.onOutdated?.();
    });
    const store = new IndexedDBEventStore<CounterEvent>({
      db,
      codec: counterCodec,
      projections: [counterList],
    });
    const names = new NameIndex();
    for (const row of await store.readView(counterList)) names.set(row.id, row.name);
    const registry = new AggregateRegistry({
      decider: counter,
      store,
      device: options.device,
      maxResident: options.maxResident,
      snapshotEvery: options.snapshotEvery,
      schemaOf: (type) => counterCodec.schemaOf(type),
      context: names.contextFor,
      onState: names.onState,
      validateState: (state) => {
        const parsed = counterStateSchema.safeParse(state);
        if (!parsed.success) throw new TallyError('invalid', 'A stored snapshot is malformed.');
        return parsed.data;
      },
    });
    self.engine = new CounterEngine(db, store, registry, names);
    return self.engine;
  }

  private closed = false;

  execute(
    stream: StreamId,
    commands: CounterCommand | readonly CounterCommand[],
    commandId?: string,
  ): Promise<CounterResult> {
    if (this.closed)
      return Promise.reject(
        new TallyError('outdated', 'A newer version of Tally is running: reload this tab.'),
      );
    return this.registry.execute(stream, commands, { commandId });
  }

  listCounters(): Promise<readonly CounterRow[]> {
    return this.store.readView(counterList);
  }

  async history(stream: StreamId): Promise<readonly HistoryEntry[]> {
    const events = await this.store.readStream(stream);
    let state: CounterState = counter.initialState();
    return events.map((event) => {
      state = counter.evolve(state, event);
      return {
        version: event.version,
        type: event.type,
        data: event.data,
        time: event.meta.time,
        device: event.meta.device,
        value: state.exists ? state.value : 0,
        name: state.exists ? state.name : '',
      };
    });
  }

  onCommit(listener: CommitListener<CounterEvent>): () => void {
    return this.store.onCommit(listener);
  }

  readAfter(position: number, limit?: number): Promise<readonly StoredEvent<CounterEvent>[]> {
    return this.store.readAfter(position, limit);
  }

  close(): void {
    this.closed = true;
    this.db.close();
  }
}
