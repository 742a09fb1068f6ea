import { releaseProxy, type Remote } from 'comlink';
import {
  checkedMethods,
  methodNames,
  subscribeRequestSchema,
  type EngineApi,
  type EngineInfo,
  type EngineMethods,
  type EngineUpdate,
  type ExecuteOutcome,
  type ExecuteRequest,
  type ExecuteResult,
  type SubscribeRequest,
  type SyncUpdate,
  type UpdateDelivery,
} from '../core/engine-protocol.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type { CommitNotice, StoredEvent } from '../core/event-store.ts';
import type { StreamId } from '../core/envelope.ts';
import { exportBackup, exportHistory, importBackup, previewImport } from './backup.ts';
import { deleteForever } from './delete-forever.ts';
import { Engine } from './engine.ts';
import type { SyncManager, SyncManagerOptions } from './sync-manager.ts';
import type { AnyModel } from '../core/model.ts';
import { WriterLock } from './writer-lock.ts';
import { firstScreenFrom, firstScreenRecord, type FirstScreen } from '../core/first-screen.ts';
import { models as allModels } from '../core/models/index.ts';
import { writeFirstScreen } from './first-screen.ts';

type Callback = (update: EngineUpdate) => void;

/** How long opening a history waits for its early history from the server before showing what is held. */
const historyFillWaitMs = 1_500;
/**
 * The first screen is kept this long after the list's last change, and at least this often
 * (a relaxed write of up to 300 rows: not after every count of a person counting).
 */
const firstScreenQuietMs = 1_000;
const firstScreenAtLeastMs = 5_000;
type Subscription = {
  readonly request: SubscribeRequest;
  readonly callback: Callback | Remote<Callback>;
  /** The port `callback` posts on, closed when the subscription ends. */
  readonly port?: MessagePort;
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

/**
 * The engine as tabs see it (docs/architecture.md, "Tabs and the engine"): every call checked
 * against the protocol's table, commands run through the engine, and live views pushed to
 * subscribers right after each commit, from the rows the commit's own transaction wrote.
 * Writing happens only while this host holds the writer lock.
 */
export class EngineHost {
  private readonly subscriptions = new Map<number, Subscription>();
  private nextId = 1;
  /** Every view's rows as the last transaction left them, by view then key. */
  private readonly views = new Map<string, Map<string, unknown>>();
  /** The state after the last history entry sent, per stream somebody watches. */
  private readonly historyTails = new Map<string, { state: unknown; version: number }>();
  /** The engine with its views read: enough to show them (sync may still be starting). */
  private readonly opened: Promise<Engine>;
  /** The engine with sync resumed: what commands and every other call wait for. */
  private readonly engine: Promise<Engine>;
  private sync: SyncManager | undefined;
  /** Why there is no sync: its code could not be loaded. */
  private syncMissing: TallyError | undefined;
  private lock: WriterLock | undefined;
  private outdated: TallyError | undefined;
  private readonly running = new Map<string, Promise<ExecuteResult>>();
  private readonly methods: EngineMethods;
  /** The views are read (`open`): until then, at most the first screen kept from the last run. */
  private isOpen = false;
  /** The first screen the last run kept, shown until the views are read (docs/architecture.md). */
  private firstScreen: FirstScreen | undefined;
  private firstScreenCame!: () => void;
  private readonly firstScreenShown = new Promise<void>(
    (resolve) => (this.firstScreenCame = resolve),
  );
  /** The position of the last event the views reflect: what a first screen kept now is true at. */
  private position = 0;
  private screenTimer: ReturnType<typeof setTimeout> | undefined;
  private screenDirtySince: number | undefined;
  /** The list's order as last computed, until something that moves a row changes. */
  private screenOrder: readonly string[] | undefined;
  /** The model's list whose first screen is kept, if any (set at open). */
  private screen: AnyModel['firstScreen'];

  constructor(private readonly options: EngineHostOptions) {
    this.opened = this.open();
    this.engine = this.start(this.opened);
    // Keep a failed start observed; callers see it through `ready()`.
    this.opened.catch(() => undefined);
    this.engine.catch(() => undefined);
    this.methods = checkedMethods({
      info: () => this.engineInfo(),
      execute: (request) => this.runOnce(request),
      // Each one through `execute`'s own check: one malformed request fails alone.
      executeMany: (requests) =>
        Promise.all(
          requests.map((request) =>
            this.methods
              .execute(request as ExecuteRequest)
              .catch((error: unknown): ExecuteOutcome => ({
                type: 'failed',
                ...toTallyError(error).toJSON(),
              })),
          ),
        ),
      startSync: async (origin) => (await this.syncReady()).startSync(origin),
      pairDevice: async () => (await this.syncReady()).pairDevice(),
      cancelPairing: async (invite) => (await this.syncReady()).cancelPairing(invite),
      devices: async () => (await this.syncReady()).devices(),
      renameDevice: async (name) => (await this.syncReady()).renameDevice(name),
      removeDevice: async (device) => (await this.syncReady()).removeDevice(device),
      joinSpace: async (origin, token) => (await this.syncReady()).joinSpace(origin, token),
      leaveSpace: async () => (await this.syncReady()).leaveSpace(),
      dismissRejection: async (id) => (await this.syncReady()).dismissRejection(id),
      setOnline: async (online) => (await this.syncReady()).setOnline(online),
      retrySync: async () => (await this.syncReady()).retryNow(),
      keepForNextStart: () => this.keepForNextStart(),
      deleteForever: async (stream) => {
        const engine = await this.ready();
        // Deleting forever reaches every device through the server: without sync's code it
        // would delete here only, and the devices would disagree for good.
        if (this.syncMissing) throw this.syncMissing;
        return deleteForever(engine, this.sync, stream);
      },
      exportBackup: async () => exportBackup(await this.whole()),
      exportHistory: async () => exportHistory(await this.whole()),
      previewImport: async (text) => previewImport(await this.whole(), text),
      importBackup: async (text) => importBackup(await this.whole(), text),
    });
  }

  /** The writer lock, then the database and the views (what the first screen shows). */
  private async open(): Promise<Engine> {
    const lock = new WriterLock(this.options.build, () => this.retire());
    this.lock = lock;
    await lock.acquired();
    try {
      const engine = await Engine.open({
        dbName: this.options.dbName,
        maxResident: this.options.maxResident,
        onOutdated: () => void this.retire(),
        onFirstScreen: (screen) => {
          if (this.isOpen) return;
          this.firstScreen = screen;
          this.firstScreenCame();
        },
      });
      this.position = await engine.store.position();
      this.screen = engine.models.all.find((model) => model.firstScreen)?.firstScreen;
      // The rows the engine read when it opened: no commit can have happened since.
      for (const [view, rows] of engine.takeStartRows())
        this.views.set(view, new Map(rows.map(({ key, value }) => [key, value])));
      this.isOpen = true;
      // Shown, so still true: nothing to keep again until the list changes.
      const kept = this.firstScreen !== undefined;
      this.firstScreen = undefined;
      // Tabs that were shown the first screen get every view whole now.
      for (const [id, { request }] of this.subscriptions)
        if (request.topic === 'view') this.sendView(id, request.view);
      engine.onCommit((notice) => this.publish(engine, notice));
      // Kept soon after a start that had none (or a stale one) too.
      if (!kept) this.keepFirstScreen(engine);
      // A history open from a base shows the whole history once its early part is here.
      engine.onBaseFilled((stream) => void this.republishHistory(engine, stream));
      return engine;
    } catch (error) {
      // An engine that cannot start writes nothing: let another one have the lock.
      lock.release();
      throw error;
    }
  }

  /** Sync, resumed where a space is stored; the views are served meanwhile. */
  private async start(opened: Promise<Engine>): Promise<Engine> {
    const engine = await opened;
    // Sync is a third of the engine's code: loaded now, while the views are already served,
    // instead of before the database is even opened.
    let code;
    try {
      code = await import('./sync-code.ts');
    } catch (error) {
      // Its files could not be fetched (the network went away in the middle of an update, with
      // nothing cached): the counters still work here; sync says why it does not.
      console.error('Tally: sync could not be loaded', error);
      const missing = new TallyError(
        'unavailable',
        'Sync could not be loaded. Reload Tally while online to sync again; counting works meanwhile.',
      );
      this.syncMissing = missing;
      this.broadcast(EngineHost.syncMissingUpdate(missing), 'sync');
      return engine;
    }
    const { SyncManager, IndexedDBSyncStorage } = code;
    const sync = new SyncManager(new IndexedDBSyncStorage(engine), this.options.sync);
    try {
      // Sync resumes with the engine when a space is stored.
      await sync.resume();
    } catch (error) {
      // Sync could not start at all (damaged settings it handles itself: `SyncManager.resume`):
      // counting works here as ever, and sync says why it is off.
      await sync.stop().catch(() => undefined);
      const failed = toTallyError(error);
      console.error('Tally: sync could not start', error);
      this.syncMissing = new TallyError(
        'unavailable',
        `${failed.message.replace(/\.$/, '')}. Sync is off; counting works here meanwhile.`,
      );
      this.broadcast(EngineHost.syncMissingUpdate(this.syncMissing), 'sync');
      return engine;
    }
    /** Sync went offline since it was last synced (not each count's syncing → synced). */
    let away = false;
    sync.onUpdate((update) => {
      this.broadcast(update, 'sync');
      // In touch with the server again: a history open from a base whose early part could not
      // be read then (the server was away) is read now, and shown whole (`onBaseFilled`).
      if (update.state === 'offline') away = true;
      else if (update.state === 'synced' && away) {
        away = false;
        void this.fillWatchedBases(engine);
      }
    });
    this.followNetwork(sync);
    this.sync = sync;
    return engine;
  }

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

  /** What sync subscribers are told when sync's code could not be loaded. */
  private static syncMissingUpdate(missing: TallyError): SyncUpdate {
    return { type: 'sync', state: 'off', pending: 0, lastError: missing.message, rejected: [] };
  }

  private async syncReady(): Promise<SyncManager> {
    await this.ready();
    if (!this.sync)
      throw this.syncMissing ?? new TallyError('unavailable', 'Sync is not available.');
    return this.sync;
  }

  /**
   * The engine, once every counter joined from the server's snapshots holds its whole history
   * here (read from the server now): a backup holds every event, and an import is compared with
   * every event. Refused, in words, while the server cannot give it.
   */
  private async whole(): Promise<Engine> {
    const engine = await this.ready();
    // Streams installed while this reads would be in the backup without their early history.
    if (this.sync?.joining())
      throw new TallyError(
        'unavailable',
        'Tally is still joining the space. Try again once it says Synced.',
      );
    const left = this.sync ? await this.sync.fillBases() : (await engine.bases()).length;
    if (left > 0)
      throw new TallyError(
        'unavailable',
        `${left === 1 ? 'One counter' : `${left} counters`} joined from the sync server keep${left === 1 ? 's' : ''} ${left === 1 ? 'its' : 'their'} early history there. Connect to the server (or join the space ${left === 1 ? 'it' : 'they'} came from again), then try again.`,
      );
    return engine;
  }

  private async ready(): Promise<Engine> {
    if (this.outdated) throw this.outdated;
    return this.engine;
  }

  /** A newer Tally took over: finish what was taken, stop writing, tell every tab to reload. */
  private async retire(): Promise<void> {
    if (this.outdated) return;
    clearTimeout(this.screenTimer);
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

  private async engineInfo(): Promise<EngineInfo> {
    const engine = await this.ready();
    return { build: this.options.build, device: engine.device, host: this.options.host };
  }

  private async runOnce(request: ExecuteRequest): Promise<ExecuteResult> {
    const { stream, commands, commandId, retry } = request;
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

  private async run(
    stream: string,
    commands: readonly unknown[],
    commandId: string,
    retry: boolean,
  ): Promise<ExecuteResult> {
    const engine = await this.ready();
    if (retry) {
      // The engine that took this command may have died after committing it: answer what it
      // wrote instead of applying it twice.
      const earlier = await engine.eventsOfCommand(stream, commandId);
      if (earlier.length > 0)
        return {
          type: 'accepted',
          stream,
          version: earlier.at(-1)!.version,
          events: [...earlier] as Extract<ExecuteResult, { type: 'accepted' }>['events'],
        };
    }
    return (await engine.execute(stream, commands, commandId)) as ExecuteResult;
  }

  async subscribe(request: SubscribeRequest, delivery: UpdateDelivery): Promise<number> {
    // A port: each update is one message posted on it, which the tab does not answer (a
    // Comlink proxy's call is answered, one message back to this worker per update).
    const port =
      typeof MessagePort === 'function' && delivery instanceof MessagePort ? delivery : undefined;
    try {
      return await this.subscribeWith(
        request,
        port ? (update: EngineUpdate) => port.postMessage(update) : delivery,
        port,
      );
    } catch (error) {
      // Refused: the tab hears nothing on it.
      port?.close();
      throw error;
    }
  }

  private async subscribeWith(
    request: SubscribeRequest,
    callback: unknown,
    port: MessagePort | undefined,
  ): Promise<number> {
    const parsed = subscribeRequestSchema.safeParse(request);
    if (!parsed.success)
      throw new TallyError(
        'invalid',
        `The subscription is malformed: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
    if (typeof callback !== 'function')
      throw new TallyError('invalid', 'A subscription needs a port or a callback.');
    const id = this.nextId++;
    const subscription: Subscription = {
      request: parsed.data,
      callback: callback as Callback,
      ...(port ? { port } : {}),
      lastVersion: 0,
    };
    const topic = parsed.data;
    if (topic.topic === 'notices') {
      this.subscriptions.set(id, subscription);
      this.sendNotices(id);
      return id;
    }
    if (topic.topic === 'view') return this.subscribeView(id, subscription, topic.view);
    const engine = await this.ready();
    if (topic.topic === 'sync') {
      this.subscriptions.set(id, subscription);
      if (this.sync) this.send(id, this.sync.current());
      else if (this.syncMissing) this.send(id, EngineHost.syncMissingUpdate(this.syncMissing));
      return id;
    }
    return this.subscribeHistory(id, subscription, engine, topic.stream);
  }

  /** A view's subscription: its first screen while the views are not read yet, else the view. */
  private async subscribeView(
    id: number,
    subscription: Subscription,
    view: string,
  ): Promise<number> {
    if (this.outdated) throw this.outdated;
    if (!this.isOpen) await Promise.race([this.opened, this.firstScreenShown]);
    if (!this.isOpen) {
      // Only the first screen so far: shown now; every view follows whole once read (`open`).
      if (!allModels.view(view))
        throw new TallyError('invalid', `There is no view named “${view}”.`);
      this.subscriptions.set(id, subscription);
      const screen = this.firstScreen;
      if (screen?.view === view)
        this.send(id, {
          type: 'view',
          view,
          reset: true,
          rows: [...screen.rows],
          removed: [],
          listed: screen.listed,
        });
      return id;
    }
    if (!this.views.has(view)) throw new TallyError('invalid', `There is no view named “${view}”.`);
    // From memory and synchronous with registration: no commit can fall between the two.
    this.subscriptions.set(id, subscription);
    this.sendView(id, view);
    return id;
  }

  /** A stream's history: read whole (waiting a moment for the history below a base), then live. */
  private async subscribeHistory(
    id: number,
    subscription: Subscription,
    engine: Engine,
    stream: StreamId,
  ): Promise<number> {
    // Joined from a snapshot: its history below is read from the server. It is waited for a
    // moment (it usually takes a fraction of that), so the whole history is what shows first;
    // past that, or without the server, the lines start at the snapshot (a first line says so),
    // and every watcher gets the whole history once it is here.
    const filling = (await engine.isBased(stream)) ? this.sync?.fillBases([stream]) : undefined;
    // Filled later, it is republished then (`onBaseFilled`).
    if (filling)
      await Promise.race([
        filling.catch(() => undefined),
        new Promise<void>((resolve) => setTimeout(resolve, historyFillWaitMs)),
      ]);
    const { events, base } = await engine.readHeld(stream);
    const { entries, state } = engine.historyHeld(stream, events, base);
    const version = events.at(-1)?.version ?? base?.version ?? 0;
    // The tail follows what was published; only the first watcher of a stream starts it.
    if (!this.historyTails.has(stream)) this.historyTails.set(stream, { state, version });
    subscription.lastVersion = version;
    this.subscriptions.set(id, subscription);
    // Commits that landed while reading are in `events` already; later ones go through publish.
    this.send(id, { type: 'history', stream, reset: true, entries });
    return id;
  }

  private sendNotices(id: number): void {
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
  }

  async unsubscribe(id: number): Promise<void> {
    this.drop(id);
  }

  /**
   * The API for one connected tab, derived from the protocol's table: it remembers the tab's
   * subscriptions so that they end with the tab (its port closing), not with the engine's life.
   */
  session(): EngineApi & { end(): void } {
    const mine = new Set<number>();
    let ended = false;
    const methods = Object.fromEntries(
      methodNames.map((method) => [method, this.methods[method]]),
    ) as unknown as EngineMethods;
    return {
      ...methods,
      subscribe: async (request, delivery) => {
        const id = await this.subscribe(request, delivery);
        // The tab went away while its subscription was being made (a view waits for the
        // database, a history for its events): ended now, not kept for ever.
        if (ended) this.drop(id);
        else mine.add(id);
        return id;
      },
      unsubscribe: async (id) => {
        // A tab may only end its own subscriptions.
        if (mine.delete(id)) this.drop(id);
      },
      end: () => {
        ended = true;
        for (const id of mine) this.drop(id);
        mine.clear();
      },
    };
  }

  private drop(id: number): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    this.subscriptions.delete(id);
    if (subscription.port) {
      subscription.port.close();
      return;
    }
    const release = (subscription.callback as Partial<Remote<Callback>>)[releaseProxy];
    if (typeof release === 'function') release();
  }

  private send(id: number, update: EngineUpdate): void {
    const subscription = this.subscriptions.get(id);
    if (!subscription) return;
    try {
      // A delivery that fails ends the subscription: a callback whose call is refused, or an
      // update a port cannot carry. (A tab that closed is never answered: its session ends on
      // its own port's `close`, and its subscriptions with it.)
      Promise.resolve(subscription.callback(update)).catch(() => this.drop(id));
    } catch {
      this.drop(id);
    }
  }

  private broadcast(update: EngineUpdate, topic: SubscribeRequest['topic'], view?: string): void {
    for (const [id, { request }] of this.subscriptions)
      if (
        request.topic === topic &&
        (view === undefined || ('view' in request && request.view === view))
      )
        this.send(id, update);
  }

  /** A view whole, from memory: a reset. */
  private sendView(id: number, view: string): void {
    const all = [...(this.views.get(view) ?? [])].map(([key, value]) => ({ key, value }));
    this.send(id, { type: 'view', view, reset: true, rows: all, removed: [] });
  }

  /**
   * The list changed: its first screen is kept for the next start once it has been quiet for a
   * moment (sorting 100,000 rows is not for every command), and at least every few seconds.
   */
  private keepFirstScreen(engine: Engine): void {
    const { screen } = this;
    // None kept for an empty list (core/first-screen.ts).
    if (!screen || (this.views.get(screen.view)?.size ?? 0) < firstScreenFrom) return;
    const now = Date.now();
    this.screenDirtySince ??= now;
    this.screenDueAt = Math.min(
      now + firstScreenQuietMs,
      this.screenDirtySince + firstScreenAtLeastMs,
    );
    // One timer for a run of commits, which waits out what is left when it fires: cleared and
    // set again for every commit, it cost each command about 0.02 ms of this thread.
    if (this.screenTimer === undefined) this.screenTimerFor(engine, screen);
  }

  /** When the first screen is next due to be kept (`keepFirstScreen`). */
  private screenDueAt = 0;

  private screenTimerFor(engine: Engine, screen: NonNullable<AnyModel['firstScreen']>): void {
    this.screenTimer = setTimeout(
      () => {
        this.screenTimer = undefined;
        if (this.screenDueAt - Date.now() >= 1) return this.screenTimerFor(engine, screen);
        this.writeFirstScreen(engine, screen).catch((error: unknown) =>
          // A cache: the next start reads the whole view instead.
          console.warn('Tally: the first screen could not be kept', error),
        );
      },
      Math.max(0, this.screenDueAt - Date.now()),
    );
  }

  /** The first screen's write in flight, if any (`keepForNextStart` waits for it). */
  private screenWriting: Promise<void> | undefined;

  /** The first screen kept now, its timer (`keepFirstScreen`) done with. */
  private writeFirstScreen(
    engine: Engine,
    screen: NonNullable<AnyModel['firstScreen']>,
  ): Promise<void> {
    const writing = this.writeFirstScreenNow(engine, screen).finally(() => {
      if (this.screenWriting === writing) this.screenWriting = undefined;
    });
    this.screenWriting = writing;
    return writing;
  }

  private async writeFirstScreenNow(
    engine: Engine,
    screen: NonNullable<AnyModel['firstScreen']>,
  ): Promise<void> {
    clearTimeout(this.screenTimer);
    this.screenTimer = undefined;
    this.screenDirtySince = undefined;
    if (this.outdated || engine.closed) return;
    const views = (view: string) => this.views.get(view);
    // Sorting 100,000 rows is a few hundred milliseconds of this thread: only when the
    // order may have changed.
    const record = firstScreenRecord(
      screen,
      views,
      this.position,
      firstScreenFrom,
      () => (this.screenOrder ??= screen.order(views)),
    );
    if (record) await writeFirstScreen(engine.db, record);
  }

  /**
   * What waits for a moment of quiet, written now (the protocol's `keepForNextStart`): the
   * records behind the appends, and the first screen if the list changed since it was kept.
   * Nothing before the engine runs (nothing changed yet).
   */
  private async keepForNextStart(): Promise<void> {
    if (!this.isOpen) return;
    // Open is enough (sync need not have resumed): what is written is the store's own.
    const engine = await this.opened;
    if (engine.closed || this.outdated) return;
    const { screen } = this;
    try {
      await Promise.all([
        engine.writeBehind(),
        // Due: written now. Being written (its timer fired a moment ago): waited for.
        this.screenTimer !== undefined && screen
          ? this.writeFirstScreen(engine, screen)
          : this.screenWriting,
      ]);
    } catch (error) {
      // A cache and what a start folds again: the tab is told, as for any call, and it is said.
      console.warn('Tally: could not keep the list for the next start', error);
      throw error;
    }
  }

  /** A transaction completed: its rows go to the views' watchers, its events to histories. */
  private publish(engine: Engine, notice: CommitNotice): void {
    const before = this.position;
    for (const event of notice.events) this.position = Math.max(this.position, event.position);
    // A rebase, or a joined counter's early history filled, moves the position with no new
    // events: the first screen kept after it is at it.
    if (notice.position !== undefined) this.position = Math.max(this.position, notice.position);
    const changes = new Map<
      string,
      { rows: { key: string; value: unknown }[]; removed: string[] }
    >();
    const { screen } = this;
    for (const { view, key, value } of notice.rows) {
      if (this.screenOrder) {
        const before = this.views.get(view)?.get(key);
        const stays =
          view === screen?.view &&
          before !== undefined &&
          value !== undefined &&
          screen.keepsOrder?.(before, value) === true;
        if (!stays) this.screenOrder = undefined;
      }
      let rows = this.views.get(view);
      if (!rows) this.views.set(view, (rows = new Map()));
      let change = changes.get(view);
      if (!change) changes.set(view, (change = { rows: [], removed: [] }));
      if (value === undefined) {
        rows.delete(key);
        change.removed.push(key);
      } else {
        rows.set(key, value);
        change.rows.push({ key, value });
      }
    }
    for (const [view, { rows, removed }] of changes)
      this.broadcast({ type: 'view', view, reset: false, rows, removed }, 'view', view);
    // Kept again when a row changed, or the head moved (a record at the old one is not shown).
    if (changes.size > 0 || this.position > before) this.keepFirstScreen(engine);
    for (const stream of notice.rebased) void this.republishHistory(engine, stream);
    const byStream = new Map<string, StoredEvent[]>();
    for (const event of notice.events) {
      let list = byStream.get(event.stream);
      if (!list) byStream.set(event.stream, (list = []));
      list.push(event);
    }
    for (const [stream, fresh] of byStream) this.publishHistory(engine, stream, fresh);
  }

  private watchersOf(stream: string): [number, Subscription][] {
    return [...this.subscriptions].filter(
      ([, sub]) => sub.request.topic === 'history' && sub.request.stream === stream,
    );
  }

  private publishHistory(engine: Engine, stream: string, fresh: readonly StoredEvent[]): void {
    const watchers = this.watchersOf(stream);
    if (watchers.length === 0) {
      this.historyTails.delete(stream);
      return;
    }
    const tail = this.historyTails.get(stream) ?? { state: undefined, version: 0 };
    // A subscriber's first read may already hold some of these events.
    const unseen = fresh.filter((event) => event.version > tail.version);
    if (unseen.length === 0) return;
    const { entries, state } = engine.historyOf(stream, unseen, tail.state);
    this.historyTails.set(stream, { state, version: unseen.at(-1)!.version });
    for (const [id, sub] of watchers) {
      const news = entries.filter((entry) => entry.version > sub.lastVersion);
      if (news.length === 0) continue;
      sub.lastVersion = news.at(-1)!.version;
      this.send(id, { type: 'history', stream, reset: false, entries: news });
    }
  }

  /** Reads from the server the early history of the based streams somebody watches. */
  private async fillWatchedBases(engine: Engine): Promise<void> {
    const watched = new Set<string>();
    for (const { request } of this.subscriptions.values())
      if (request.topic === 'history') watched.add(request.stream);
    const based: string[] = [];
    for (const stream of watched) if (await engine.isBased(stream)) based.push(stream);
    if (based.length > 0) await this.sync?.fillBases(based).catch(() => undefined);
  }

  /** A rebase rewrote the stream's pending suffix: its watchers get the whole history again. */
  private async republishHistory(engine: Engine, stream: string): Promise<void> {
    if (this.watchersOf(stream).length === 0) return;
    const { events, base } = await engine.readHeld(stream);
    const { entries, state } = engine.historyHeld(stream, events, base);
    const version = events.at(-1)?.version ?? base?.version ?? 0;
    this.historyTails.set(stream, { state, version });
    for (const [id, sub] of this.watchersOf(stream)) {
      sub.lastVersion = version;
      this.send(id, { type: 'history', stream, reset: true, entries });
    }
  }
}
