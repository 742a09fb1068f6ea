import { releaseProxy, type Remote } from 'comlink';
import {
  counter,
  type CounterCommand,
  type CounterEvent,
  type CounterState,
} from '../core/counter.ts';
import { counterList, type CounterRow } from '../core/counter-projections.ts';
import {
  executeRequestSchema,
  subscribeRequestSchema,
  type CounterResult,
  type EngineApi,
  type EngineInfo,
  type EngineUpdate,
  type ExecuteRequest,
  type SubscribeRequest,
} from '../core/engine-api.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event-store.ts';
import { CounterEngine, historyOf } from './engine.ts';
import { SyncManager, type SyncManagerOptions } from './sync-manager.ts';
import { WriterLock } from './writer-lock.ts';

type Callback = (update: EngineUpdate) => void;
type Subscription = {
  readonly request: SubscribeRequest;
  readonly callback: Callback | Remote<Callback>;
  /** History subscriptions: the last version this subscriber was sent. */
  lastVersion: number;
};

export type EngineHostOptions = {
  readonly dbName: string;
  readonly build: string;
  readonly host: EngineInfo['host'];
  readonly maxResident?: number;
  /** For tests: the fetch, backoff and batching the sync client uses. */
  readonly sync?: SyncManagerOptions;
};

const invalid = (what: string, error: { issues: readonly { message: string }[] }) =>
  new TallyError('invalid', `${what}: ${error.issues.map((i) => i.message).join('; ')}`);

/**
 * The engine as tabs see it: validates every message (another thread is an edge), runs commands
 * through the engine, and pushes live read models to subscribers right after each commit.
 * Writing happens only while this host holds the writer lock (DESIGN.md §3.1).
 */
export class EngineHost implements EngineApi {
  private readonly subscriptions = new Map<number, Subscription>();
  private nextId = 1;
  private readonly rows = new Map<string, CounterRow>();
  /** The state after the last history entry sent, per stream somebody watches. */
  private readonly historyTails = new Map<string, { state: CounterState; version: number }>();
  private readonly engine: Promise<CounterEngine>;
  private outdated: TallyError | undefined;

  constructor(private readonly options: EngineHostOptions) {
    this.engine = this.start();
    // Keep a failed start observed; callers see it through `ready()`.
    this.engine.catch(() => undefined);
  }

  private async start(): Promise<CounterEngine> {
    const lock = new WriterLock(this.options.build, () => this.retire());
    this.lock = lock;
    await lock.acquired();
    try {
      const engine = await CounterEngine.open({
        dbName: this.options.dbName,
        maxResident: this.options.maxResident,
        onOutdated: () => void this.retire(),
      });
      for (const row of (await engine.inspectCounters()).rows) this.rows.set(row.id, row);
      engine.onCommit((events) => this.publish(events));
      engine.onRebase((stream) => void this.republish(engine, stream));
      const sync = new SyncManager(engine, this.options.sync);
      sync.onUpdate((update) => this.broadcast(update, 'sync'));
      this.followNetwork(sync);
      // Sync resumes with the engine when a space is stored.
      await sync.resume();
      this.sync = sync;
      return engine;
    } catch (error) {
      // An engine that cannot start writes nothing: let another one have the lock.
      lock.release();
      throw error;
    }
  }

  private sync: SyncManager | undefined;

  /** The platform's online/offline events, where the worker has them, as hints to sync. */
  private followNetwork(sync: SyncManager): void {
    const scope = globalThis as Partial<
      Pick<WindowEventHandlers & EventTarget, 'addEventListener'>
    >;
    if (typeof scope.addEventListener !== 'function' || typeof navigator === 'undefined') return;
    if (navigator.onLine === false) sync.setOnline(false);
    scope.addEventListener('online', () => sync.setOnline(true));
    scope.addEventListener('offline', () => sync.setOnline(false));
  }

  private async syncReady(): Promise<SyncManager> {
    await this.ready();
    if (!this.sync) throw new TallyError('unavailable', 'Sync is not available.');
    return this.sync;
  }

  async startSync(origin: string): Promise<{ space: string; pairingLink: string }> {
    return (await this.syncReady()).startSync(origin);
  }

  async joinSpace(origin: string, token: string): Promise<void> {
    await (await this.syncReady()).joinSpace(origin, token);
  }

  async leaveSpace(): Promise<void> {
    await (await this.syncReady()).leaveSpace();
  }

  async dismissRejection(commandId: string): Promise<void> {
    await (await this.syncReady()).dismissRejection(commandId);
  }

  async setOnline(online: boolean): Promise<void> {
    if (typeof online !== 'boolean') throw new TallyError('invalid', 'online must be a boolean.');
    (await this.syncReady()).setOnline(online);
  }

  private lock: WriterLock | undefined;

  private async ready(): Promise<CounterEngine> {
    if (this.outdated) throw this.outdated;
    return this.engine;
  }

  /** A newer Tally took over: finish what was taken, stop writing, tell every tab to reload. */
  private async retire(): Promise<void> {
    if (this.outdated) return;
    this.outdated = new TallyError(
      'outdated',
      'Tally was updated in another tab. Reload this tab to keep going.',
    );
    try {
      const engine = await this.engine;
      await this.sync?.stop();
      await engine.stop();
    } finally {
      this.lock?.release();
      this.broadcast(
        { type: 'notice', notice: 'outdated', message: this.outdated.message },
        'notices',
      );
    }
  }

  async info(): Promise<EngineInfo> {
    const engine = await this.ready();
    return { build: this.options.build, device: engine.device, host: this.options.host };
  }

  async execute(request: ExecuteRequest): Promise<CounterResult> {
    const parsed = executeRequestSchema.safeParse(request);
    if (!parsed.success) throw invalid('The command is malformed', parsed.error);
    const { stream, commands, commandId, retry } = parsed.data;
    // The same command sent twice (a tab re-sending to a new leader) joins the first.
    const running = this.running.get(commandId);
    if (running) return running;
    const result = this.run(stream, commands, commandId, retry === true);
    this.running.set(commandId, result);
    try {
      return await result;
    } finally {
      this.running.delete(commandId);
    }
  }

  private readonly running = new Map<string, Promise<CounterResult>>();

  private async run(
    stream: string,
    commands: readonly CounterCommand[],
    commandId: string,
    retry: boolean,
  ): Promise<CounterResult> {
    const engine = await this.ready();
    if (retry) {
      // The engine that took this command may have died after committing it: answer what it
      // wrote instead of applying it twice.
      const earlier = await engine.eventsOfCommand(stream, commandId);
      if (earlier.length > 0)
        return {
          type: 'accepted',
          stream,
          version: earlier[earlier.length - 1]!.version,
          events: earlier,
        };
    }
    return engine.execute(stream, commands, commandId);
  }

  async subscribe(request: SubscribeRequest, callback: Callback): Promise<number> {
    const parsed = subscribeRequestSchema.safeParse(request);
    if (!parsed.success) throw invalid('The subscription is malformed', parsed.error);
    if (typeof callback !== 'function')
      throw new TallyError('invalid', 'A subscription needs a callback.');
    const id = this.nextId++;
    const subscription: Subscription = { request: parsed.data, callback, lastVersion: 0 };
    if (parsed.data.topic === 'notices') {
      this.subscriptions.set(id, subscription);
      if (this.outdated)
        this.send(id, { type: 'notice', notice: 'outdated', message: this.outdated.message });
      void this.engine.then(
        (engine) => {
          if (engine.damage.length > 0)
            this.send(id, { type: 'notice', notice: 'damaged', message: engine.damage.join(' ') });
        },
        (error: unknown) =>
          this.send(id, {
            type: 'notice',
            notice: 'damaged',
            message: `Tally could not open its storage: ${toTallyError(error).message}`,
          }),
      );
      return id;
    }
    const engine = await this.ready();
    if (parsed.data.topic === 'sync') {
      this.subscriptions.set(id, subscription);
      if (this.sync) this.send(id, this.sync.current());
      return id;
    }
    if (parsed.data.topic === 'counters') {
      // From memory and synchronous with registration: no commit can fall between the two.
      this.subscriptions.set(id, subscription);
      this.send(id, { type: 'counters', reset: true, rows: [...this.rows.values()] });
      return id;
    }
    const { stream } = parsed.data;
    const events = await engine.store.readStream(stream);
    const { entries, state } = historyOf(events);
    const version = events.at(-1)?.version ?? 0;
    // The tail follows what was published; only the first watcher of a stream starts it.
    if (!this.historyTails.has(stream)) this.historyTails.set(stream, { state, version });
    subscription.lastVersion = version;
    this.subscriptions.set(id, subscription);
    // Commits that landed while reading are in `events` already; later ones go through publish.
    this.send(id, { type: 'history', stream, reset: true, entries });
    return id;
  }

  async unsubscribe(id: number): Promise<void> {
    this.drop(id);
  }

  /**
   * The API for one connected tab: it remembers the tab's subscriptions so that they end with
   * the tab (its port closing), not with the engine's life.
   */
  session(): EngineApi & { end(): void } {
    const mine = new Set<number>();
    return {
      info: () => this.info(),
      execute: (request) => this.execute(request),
      subscribe: async (request, callback) => {
        const id = await this.subscribe(request, callback);
        mine.add(id);
        return id;
      },
      startSync: (origin) => this.startSync(origin),
      joinSpace: (origin, token) => this.joinSpace(origin, token),
      leaveSpace: () => this.leaveSpace(),
      dismissRejection: (commandId) => this.dismissRejection(commandId),
      setOnline: (online) => this.setOnline(online),
      unsubscribe: async (id) => {
        // A tab may only end its own subscriptions.
        if (mine.delete(id)) this.drop(id);
      },
      end: () => {
        for (const id of mine) this.drop(id);
        mine.clear();
      },
    };
  }

  private drop(id: number): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    this.subscriptions.delete(id);
    const release = (subscription.callback as Partial<Remote<Callback>>)[releaseProxy];
    if (typeof release === 'function') release();
  }

  private send(id: number, update: EngineUpdate): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    try {
      // A closed tab's port never answers; a failed delivery ends the subscription.
      Promise.resolve(subscription.callback(update)).catch(() => this.drop(id));
    } catch {
      this.drop(id);
    }
  }

  private broadcast(update: EngineUpdate, topic: SubscribeRequest['topic']): void {
    for (const [id, { request }] of this.subscriptions)
      if (request.topic === topic) this.send(id, update);
  }

  /** Commits published so far: tells a re-read whether a commit slipped in while it read. */
  private published = 0;

  /**
   * A rebase rewrote a stream's pending suffix: versions went back or changed, and a counter
   * may even be gone (its create rejected after sync). Incremental updates cannot say that, so
   * every tab gets the list again and the stream's history watchers a full history.
   */
  private async republish(engine: CounterEngine, stream: string): Promise<void> {
    let rows: readonly CounterRow[];
    let seen: number;
    let events: readonly StoredEvent<CounterEvent>[];
    do {
      seen = this.published;
      [rows, events] = await Promise.all([
        engine.inspectCounters().then((view) => view.rows),
        engine.store.readStream(stream),
      ]);
    } while (seen !== this.published);
    this.rows.clear();
    for (const row of rows) this.rows.set(row.id, row);
    this.broadcast({ type: 'counters', reset: true, rows: [...rows] }, 'counters');
    const { entries, state } = historyOf(events);
    const version = events.at(-1)?.version ?? 0;
    this.historyTails.set(stream, { state, version });
    for (const [id, sub] of this.subscriptions) {
      if (sub.request.topic !== 'history' || sub.request.stream !== stream) continue;
      sub.lastVersion = version;
      this.send(id, { type: 'history', stream, reset: true, entries });
    }
  }

  private publish(events: readonly StoredEvent<CounterEvent>[]): void {
    this.published++;
    const changed = new Map<string, CounterRow>();
    const byStream = new Map<string, StoredEvent<CounterEvent>[]>();
    for (const event of events) {
      const row = counterList.apply(this.rows.get(event.stream), event);
      if (row) {
        this.rows.set(event.stream, row);
        changed.set(event.stream, row);
      }
      let list = byStream.get(event.stream);
      if (!list) byStream.set(event.stream, (list = []));
      list.push(event);
    }
    if (changed.size > 0)
      this.broadcast({ type: 'counters', reset: false, rows: [...changed.values()] }, 'counters');
    for (const [stream, fresh] of byStream) {
      const watchers = [...this.subscriptions].filter(
        ([, sub]) => sub.request.topic === 'history' && sub.request.stream === stream,
      );
      if (watchers.length === 0) {
        this.historyTails.delete(stream);
        continue;
      }
      const tail = this.historyTails.get(stream) ?? { state: counter.initialState(), version: 0 };
      // A subscriber's first read may already hold some of these events.
      const unseen = fresh.filter((event) => event.version > tail.version);
      if (unseen.length === 0) continue;
      const { entries, state } = historyOf(unseen, tail.state);
      this.historyTails.set(stream, { state, version: unseen.at(-1)!.version });
      for (const [id, sub] of watchers) {
        const news = entries.filter((entry) => entry.version > sub.lastVersion);
        if (news.length === 0) continue;
        sub.lastVersion = news.at(-1)!.version;
        this.send(id, { type: 'history', stream, reset: false, entries: news });
      }
    }
  }
}
