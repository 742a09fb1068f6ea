import { AggregateRegistry } from '../core/aggregate-registry.ts';
import type { ExecuteResult } from '../core/aggregate-actor.ts';
import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import type { HistoryEntry } from '../core/engine-protocol.ts';
import { joinedEntryType } from '../core/joined-entry.ts';
import { TallyError } from '../core/errors.ts';
import type { ReceiveOutcome, StoredEvent } from '../core/event-store.ts';
import type { AnyModel, ModelRules, ModelSet } from '../core/model.ts';
import { models as allModels } from '../core/models/index.ts';
import type { Projection } from '../core/projection.ts';
import { IndexedDBEventStore, type CommitListener } from './event-store.ts';
import { forgetStream } from './forget-stream.ts';
import {
  checkSnapshot,
  foldsToBase,
  listBases,
  readableBase,
  type BaseInfo,
  type CheckedSnapshot,
} from './stream-bases.ts';
import type { StreamSnapshot } from '../core/stream-snapshot.ts';
import { streamHeadSchema } from '../core/append-plan.ts';
import { openTallyDB, type TallyDatabase } from './idb-schema.ts';
import { readFirstScreen } from './first-screen.ts';
import type { FirstScreen } from '../core/first-screen.ts';
import { streamEvents } from './event-records.ts';

export type EngineOptions = {
  readonly dbName: string;
  /** This browser profile's id, stamped on every event it decides; made once and kept. */
  readonly device?: string;
  /** The models this engine runs; every model Tally knows by default. */
  readonly models?: ModelSet;
  /** At most this many aggregates of each model stay in memory. */
  readonly maxResident?: number;
  readonly snapshotEvery?: number;
  /** At most this many commits share one transaction (the store's default otherwise). */
  readonly maxBatch?: number;
  /** How many streams' heads and rows the store keeps in memory (the store's default otherwise). */
  readonly maxCached?: number;
  /** Called when a newer app version needs the database: this engine must stop writing. */
  readonly onOutdated?: () => void;
  /**
   * Called with the first screen kept from the last run, when it is still true, as soon as it
   * is read: before the views are (worker/first-screen.ts). Not called when there is none.
   */
  readonly onFirstScreen?: (screen: FirstScreen) => void;
};

/** One model's part of the engine: its registry of actors and its cross-aggregate rules. */
type Route = {
  readonly model: AnyModel;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each route has its own types
  readonly registry: AggregateRegistry<any, any, any, any>;
  readonly rules: ModelRules<unknown, unknown>;
};

async function deviceId(db: TallyDatabase): Promise<string> {
  // Read-only first: every start but the first finds it, and needs no write transaction.
  const found = await db.get('meta', 'device');
  if (found?.key === 'device') return found.device;
  const tx = db.transaction('meta', 'readwrite');
  const record = await tx.store.get('device');
  if (record?.key === 'device') return record.device;
  const device = `device-${crypto.randomUUID()}`.slice(0, 40);
  await Promise.all([tx.store.put({ key: 'device', device }), tx.done]);
  return device;
}

const outdated = () =>
  new TallyError('outdated', 'A newer version of Tally is running: reload this tab.');

/**
 * The engine one browser profile runs (docs/architecture.md, "Tabs and the engine"): one registry of
 * actors per model over the one IndexedDB store, each command and each of the server's events
 * routed by its stream's model. Everything here is wiring; decisions are the models'.
 */
export class Engine {
  private readonly routes = new Map<string, Route>();
  private closed_ = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Streams being re-decided because the server's events took something they rely on. */
  private readonly rechecks = new Set<Promise<unknown>>();
  private settling: Promise<void> = Promise.resolve();
  private starting = true;
  /** What was found damaged in storage when the engine opened, in words. */
  damage: readonly string[] = [];

  private constructor(
    readonly db: TallyDatabase,
    readonly store: IndexedDBEventStore,
    readonly models: ModelSet,
    readonly device: string,
    options: EngineOptions,
  ) {
    for (const model of models.all) {
      const rules = model.rules({ recheck: (stream) => this.recheck(stream) });
      const registry = new AggregateRegistry({
        decider: model.decider,
        store,
        device,
        maxResident: options.maxResident,
        snapshotEvery: options.snapshotEvery,
        schemaOf: (type) => model.codec.schemaOf(type),
        context: (stream, situation) => rules.context(stream, situation),
        onState: (stream, state) => rules.observe(stream, state),
        parseCommands: (raw) => raw.map((command) => model.commandSchema.parse(command)),
        label: (state, commands) => model.label(state, commands),
        validateState: (state) => {
          const parsed = model.stateSchema.safeParse(state);
          if (!parsed.success) throw new TallyError('invalid', 'A stored snapshot is malformed.');
          return parsed.data;
        },
      });
      this.routes.set(model.decider.name, { model, registry, rules });
    }
  }

  static async open(options: EngineOptions): Promise<Engine> {
    const models = options.models ?? allModels;
    const self: { engine?: Engine } = {};
    const db = await openTallyDB(
      options.dbName,
      () => {
        self.engine?.close();
        options.onOutdated?.();
      },
      (events) => {
        const first = events[0];
        return first ? models.modelOf(first.stream).commandsOf(events) : [];
      },
    );
    const { onFirstScreen } = options;
    if (onFirstScreen)
      void readFirstScreen(db, models).then(
        (screen) => screen && onFirstScreen(screen),
        // A cache: without it, the list shows once the views are read.
        () => undefined,
      );
    const store = new IndexedDBEventStore({
      db,
      models,
      maxBatch: options.maxBatch,
      maxCached: options.maxCached,
    });
    // The device's id is read beside the views, which are read once what was left behind the
    // appends is made again (usually a read finds nothing was).
    const [device, views] = await Promise.all([
      options.device ?? deviceId(db),
      store
        .recoverBehind()
        .then(() =>
          Promise.all(models.projections.map((projection) => store.inspectKeyedView(projection))),
        ),
    ]);
    const engine = new Engine(db, store, models, device, options);
    await engine.observeStoredRows(views);
    self.engine = engine;
    return engine;
  }

  /**
   * The rules start from the read models: each model's rules observe the state its rows say.
   * A damaged row must not keep the app from opening: the sound rows are used, the damaged
   * ones named (`damage`) and left untouched.
   */
  private async observeStoredRows(
    views: readonly Awaited<ReturnType<IndexedDBEventStore['inspectKeyedView']>>[],
  ): Promise<void> {
    // Each view is read once at start (`views`, in the order of the model list's projections):
    // for the damage report, the rules, and the host's views.
    const damage: string[] = [];
    const rows = new Map<string, readonly { readonly key: string; readonly value: unknown }[]>();
    for (const [i, projection] of this.models.projections.entries()) {
      const view = views[i]!;
      rows.set(projection.view, view.rows);
      damage.push(...view.damaged.map((error) => error.message));
    }
    this.damage = damage;
    this.startRows = rows;
    const read = async <Row>(p: Projection<Row>) =>
      (rows.get(p.view) ?? []).map((row) => row.value as Row);
    for (const { model, rules } of this.routes.values()) {
      if (!model.rowStates) continue;
      for (const [stream, state] of await model.rowStates(read)) rules.observe(stream, state);
    }
    this.starting = false;
  }

  private startRows = new Map<
    string,
    readonly { readonly key: string; readonly value: unknown }[]
  >();

  /**
   * Every view's sound rows as they were when the engine opened (by view, with their keys), once:
   * what the host starts its live views from. Handed over, not kept, so they are not held twice.
   */
  takeStartRows(): ReadonlyMap<
    string,
    readonly { readonly key: string; readonly value: unknown }[]
  > {
    const rows = this.startRows;
    this.startRows = new Map();
    return rows;
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Actors in memory, over every model. */
  get resident(): number {
    let sum = 0;
    for (const { registry } of this.routes.values()) sum += registry.resident;
    return sum;
  }

  private route(stream: StreamId): Route {
    return this.routes.get(this.models.modelOf(stream).decider.name)!;
  }

  /**
   * Runs one command, or a batch as one atomic decision, on the stream's model. The commands are
   * parsed with the model's schema (whoever sent them); resolves once the events are durable.
   */
  async execute(
    stream: StreamId,
    commands: unknown,
    commandId?: string,
  ): Promise<ExecuteResult<{ type: string; data: unknown }>> {
    const { model, registry } = this.route(stream);
    const batch = (Array.isArray(commands) ? commands : [commands]).map((command: unknown) => {
      const parsed = model.commandSchema.safeParse(command);
      if (!parsed.success)
        throw new TallyError(
          'invalid',
          `The command is malformed: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
        );
      return parsed.data as unknown;
    });
    return this.track(() => registry.execute(stream, batch, { commandId }));
  }

  /**
   * The server's events for one stream, through its actor's mailbox (docs/architecture.md,
   * "Sync rules"). With `recheck`, the stream's pending commands are re-decided even without
   * new events. Resolves once what they set off (re-checks, settling the rules) is done too, so
   * a push never overtakes it.
   */
  async receive(
    stream: StreamId,
    events: readonly EventEnvelope[],
    recheck = false,
  ): Promise<ReceiveOutcome> {
    const { model, registry } = this.route(stream);
    // The server deleted the stream forever (another device's "Delete forever"): whatever this
    // device holds of it goes, pending commands included, so nothing of it is pushed back.
    const tombstone = model.deletion?.tombstone;
    if (tombstone !== undefined && events.some((event) => event.type === tombstone))
      return this.track(async () => {
        await this.forgetNow(stream, { tellDropped: true });
        return {
          type: 'applied',
          confirmed: 0,
          version: 0,
          appended: [],
          rebased: false,
          rejected: [],
        };
      });
    return this.track(async () => {
      const outcome = await registry.receive(stream, events, { recheck });
      while (this.rechecks.size > 0) await Promise.allSettled([...this.rechecks]);
      await this.settle();
      return outcome;
    });
  }

  /**
   * Drops every record of a stream on this device (its events, rows, pending commands), in turn
   * with its commands; the stream's actor then holds nothing and its model's rules forget it
   * (an archived counter's name is free again). Answers how many events were dropped.
   */
  forget(stream: StreamId): Promise<number> {
    return this.track(() => this.forgetNow(stream));
  }

  /**
   * The server deleted the stream forever (another device's "Delete forever"): what its tombstone
   * does, for a device that learns it otherwise. Pending changes to it are told as dropped.
   */
  forgetDeleted(stream: StreamId): Promise<number> {
    return this.track(() => this.forgetNow(stream, { tellDropped: true }));
  }

  private forgetNow(stream: StreamId, options?: { tellDropped?: boolean }): Promise<number> {
    return this.route(stream).registry.exclusive(stream, async () => {
      // Written beside the store's appends: its cache must not keep the stream's head or rows.
      this.store.forgetCached(stream);
      let notice;
      try {
        notice = await this.store.beside(() => forgetStream(this.db, this.models, stream, options));
      } finally {
        this.store.forgetCached(stream);
      }
      this.store.notify(notice);
      return notice.forgotten;
    });
  }

  /** Runs `work` while the actors of `streams` decide nothing; each loads its stream again after. */
  async holding<T>(streams: readonly StreamId[], work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holds = streams.map((stream) => {
      let held!: () => void;
      const taken = new Promise<void>((resolve) => (held = resolve));
      const done = this.route(stream).registry.exclusive(stream, async () => {
        held();
        await released;
      });
      // A stream that cannot load (damaged) fails its hold instead of leaving it waiting.
      return { ready: Promise.race([taken, done.then(() => undefined)]), done };
    });
    try {
      await Promise.all(holds.map((hold) => hold.ready));
      return await work();
    } finally {
      release();
      await Promise.allSettled(holds.map((hold) => hold.done));
    }
  }

  private recheck(stream: StreamId): void {
    // At start the rules learn what the rows say; duplicates among them are settled on sync.
    // Without a space stored, no command is pending for a server: nothing to decide again (and
    // no outbox entry to decide it from: worker/outbox.ts).
    if (this.closed_ || this.starting || !this.store.keepsOutbox) return;
    const run = this.route(stream)
      .registry.receive(stream, [], { recheck: true })
      .catch(() => undefined)
      .finally(() => this.rechecks.delete(run));
    this.rechecks.add(run);
  }

  /**
   * A page of the server's snapshots (docs/architecture.md, "Joining a space"): each stream this
   * device does not hold, and can read, starts here from its snapshot, and the rules learn its
   * state as they learn a received stream's. Answers the streams to read from their events
   * instead: held here already but behind the snapshot, or in a shape this build cannot take.
   */
  installBases(
    space: string,
    snapshots: readonly StreamSnapshot[],
  ): Promise<{ readonly stream: StreamId; readonly version: number }[]> {
    return this.track(async () => {
      const checked: CheckedSnapshot[] = [];
      const fromEvents: { stream: StreamId; version: number }[] = [];
      for (const snapshot of snapshots) {
        const ok = checkSnapshot(this.models, snapshot);
        if (ok) checked.push(ok);
        else fromEvents.push({ stream: snapshot.stream, version: snapshot.version });
      }
      // An actor in memory (a stream asked for before it existed here) loads again after.
      const resident = checked
        .map(({ snapshot }) => snapshot.stream)
        .filter((stream) => this.route(stream).registry.isResident(stream));
      const installed = await this.holding(resident, () => this.store.installBases(space, checked));
      for (const { stream, state } of installed.based)
        this.route(stream).rules.observe(stream, state);
      while (this.rechecks.size > 0) await Promise.allSettled([...this.rechecks]);
      if (installed.based.length > 0) await this.settle();
      return [
        ...fromEvents,
        ...installed.behind.map(({ stream, version }) => ({ stream, version })),
      ];
    });
  }

  /**
   * A based stream's history below its base, read from the server, stored: the stream is whole
   * here from then on. In turn with its commands. False when it was not based (any more).
   */
  async fillBase(stream: StreamId, events: readonly EventEnvelope[]): Promise<boolean> {
    const filled = await this.track(async () => {
      const record = await this.db.get('bases', stream);
      if (!record) return false;
      // The server is an edge: its history must fold to exactly what this device joined at.
      if (!foldsToBase(this.models, record, events))
        throw new TallyError(
          'invalid',
          `The server's history of ${stream} does not add up to what this device joined it at.`,
        );
      // A base this build cannot read leaves its actor unable to load, so nothing can run on
      // the stream meanwhile: written directly, and the actor loads the whole stream next time.
      if (!readableBase(this.models, record)) return this.store.fillBase(stream, events);
      return this.route(stream).registry.exclusive(stream, () =>
        this.store.fillBase(stream, events),
      );
    });
    // A history shown from the base (worker/engine-host.ts) is whole now, however it was read.
    if (filled) for (const listener of this.baseFilled) listener(stream);
    return filled;
  }

  /** Told, with its stream, each time a based stream's history below its base is stored. */
  onBaseFilled(listener: (stream: StreamId) => void): () => void {
    this.baseFilled.add(listener);
    return () => this.baseFilled.delete(listener);
  }

  private readonly baseFilled = new Set<(stream: StreamId) => void>();

  /** Every stream based here: joined from a snapshot, its history below not read yet. */
  bases(): Promise<BaseInfo[]> {
    return listBases(this.db, this.models);
  }

  /**
   * History lines of a stream as far as this device holds it: from its base, when it was joined
   * from a snapshot and its history below is not read (a first line says so), else from its start.
   */
  historyHeld(
    stream: StreamId,
    events: readonly StoredEvent[],
    base: { readonly version: number; readonly state: unknown } | undefined,
  ): { entries: HistoryEntry[]; state: unknown } {
    const { entries, state } = this.historyOf(stream, events, base?.state);
    if (!base) return { entries, state };
    const line = this.route(stream).model.historyLine?.(base.state) ?? { name: '', value: 0 };
    const joined: HistoryEntry = {
      version: base.version,
      type: joinedEntryType,
      name: line.name,
      value: line.value,
      time: entries[0]?.time ?? Date.now(),
      device: '',
      command: `joined-${stream}`,
    };
    return { entries: [joined, ...entries], state };
  }

  /** The confirmed head of a stream here (0 for none). */
  async confirmedOf(stream: StreamId): Promise<number> {
    // A push accepted meanwhile may have raised it in memory (written behind the appends).
    const behind = this.store.confirmedBehind(stream);
    const head = streamHeadSchema.safeParse(await this.db.get('streams', stream));
    return Math.max(behind, head.success ? (head.data.confirmed ?? 0) : 0);
  }

  /**
   * Every model's rules settle what the server's events (or an imported backup) broke, one run
   * at a time.
   */
  settle(): Promise<void> {
    const run = this.settling.then(async () => {
      const read = <Row>(projection: Projection<Row>) => this.store.readView(projection);
      for (const { rules } of this.routes.values())
        for (const { stream, commands } of (await rules.settle?.(read)) ?? []) {
          const result = await this.execute(stream, commands);
          if (result.type === 'rejected')
            console.warn(`Tally: could not settle ${stream}: ${result.reason}`);
        }
    });
    this.settling = run.catch(() => undefined);
    return run;
  }

  private async track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed_) throw outdated();
    this.inFlight++;
    try {
      return await work();
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
    // What is still behind the appends is written now; if that fails, the next start folds it.
    await this.store.writeBehind().catch(() => undefined);
    this.store.close();
    this.db.close();
  }

  /** What is written behind the appends (heads, rows, outbox entries), written now. */
  writeBehind(): Promise<void> {
    return this.store.writeBehind();
  }

  close(): void {
    this.closed_ = true;
    this.store.close();
    this.db.close();
  }

  /** A history line per event: the model's own fold, so a value is never computed twice. */
  async history(stream: StreamId): Promise<readonly HistoryEntry[]> {
    const { events, base } = await this.readHeld(stream);
    return this.historyHeld(stream, events, base).entries;
  }

  /** Whether the stream was joined from a snapshot and its history below is not read yet. */
  async isBased(stream: StreamId): Promise<boolean> {
    return (await this.db.getKey('bases', stream)) !== undefined;
  }

  /**
   * A stream as this device holds it, in one read: its events, and its base (checked) when it
   * was joined from a snapshot and its history below is not read yet. Read together, so a fill
   * committing meanwhile is never seen half (the base and the events below it both, or neither).
   */
  async readHeld(stream: StreamId): Promise<{
    readonly events: readonly StoredEvent[];
    readonly base: { readonly version: number; readonly state: unknown } | undefined;
  }> {
    const tx = this.db.transaction(['events', 'bases'], 'readonly');
    const [raw, record] = await Promise.all([
      streamEvents(tx.objectStore('events'), stream),
      tx.objectStore('bases').get(stream),
    ]);
    const events = raw.map((r) => this.store.decodeRecord(r));
    if (!record) return { events, base: undefined };
    const state = this.route(stream).model.stateSchema.safeParse(record.state);
    return {
      events,
      base: state.success ? { version: record.version, state: state.data } : undefined,
    };
  }

  /** History lines for `events`, folded on from `start` (the state after the last line sent). */
  historyOf(
    stream: StreamId,
    events: readonly StoredEvent[],
    start?: unknown,
  ): { entries: HistoryEntry[]; state: unknown } {
    const { model } = this.route(stream);
    let state: unknown = start ?? model.decider.initialState();
    const entries = events.map((event): HistoryEntry => {
      state = model.decider.evolve(state, event);
      const line = model.historyLine?.(state) ?? { name: '', value: 0 };
      return {
        version: event.version,
        type: event.type,
        time: event.meta.time,
        device: event.meta.device,
        command: event.meta.command,
        name: line.name,
        value: line.value,
      };
    });
    return { entries, state };
  }

  readView<Row>(projection: Projection<Row>): Promise<readonly Row[]> {
    return this.store.readView(projection);
  }

  inspectView<Row>(projection: Projection<Row>) {
    return this.store.inspectView(projection);
  }

  eventsOfCommand(stream: StreamId, commandId: string, window?: number) {
    return this.store.eventsOfCommand(stream, commandId, window);
  }

  onCommit(listener: CommitListener): () => void {
    return this.store.onCommit(listener);
  }

  readAfter(position: number, limit?: number): Promise<readonly StoredEvent[]> {
    return this.store.readAfter(position, limit);
  }
}
