import { installErrorTransfer } from '../browser/comlink-errors.ts';
import type {
  EngineApi,
  EngineMethods,
  EngineUpdate,
  ExecuteOutcome,
  ExecuteRequest,
  ExecuteResult,
  SubscribeRequest,
} from '../core/engine-protocol.ts';
import { commandsPerTransaction, maxCommandsPerCall, methodNames } from '../core/engine-methods.ts';
import { reviveError, TallyError, toTallyError } from '../core/errors.ts';
import type { FirstScreen } from '../core/first-screen.ts';
import { connectSharedWorker } from './shared-worker-client.ts';

/** What the UI uses, whichever way the engine is reached. */
export type EngineClient = Omit<EngineMethods, 'execute'> & {
  readonly transport: 'shared-worker' | 'leader';
  /** Runs a command (or an atomic batch) on a stream, under a fresh command id. */
  execute(stream: string, commands: object | readonly object[]): Promise<ExecuteResult>;
  /** Starts a live subscription; the returned function ends it and releases its proxy. */
  subscribe(request: SubscribeRequest, onUpdate: (update: EngineUpdate) => void): () => void;
  /**
   * A view's rows as this tab last received them (a new object after every update, reading the
   * rows as they are now), or undefined while nobody here watches it or its first rows are on
   * the way.
   */
  viewRows(view: string): HeldRows | undefined;
  /**
   * While `viewRows` are a first screen (the engine has not read the whole view yet): how many
   * rows its list holds; the rows are its first ones, in its order. Undefined once whole.
   */
  viewListed(view: string): number | undefined;
  /**
   * Shows a first screen the page read from storage itself (app/kept-screen.ts) as the view's
   * rows, while the engine starts: only if this tab watches the view and the engine has sent it
   * nothing yet, and only until it does (its first update is a reset). Answers whether it showed.
   */
  showFirstScreen(screen: FirstScreen): boolean;
  /** Resolves once every command this tab sent has been answered (before a reload). */
  whenIdle(): Promise<void>;
};

/** Whether a message can carry `value` (what the browser clones; a function, say, it cannot). */
function sendable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The most commands of one task sent in one `executeMany` (the protocol allows
 * `maxCommandsPerCall`): the most the store commits in one transaction (its group commit's
 * `maxBatch`). A call is answered once all its commands are, so a larger burst goes as several:
 * the first's answers reach the tab, and its next commands the engine, while the disk takes the
 * rest, instead of the whole burst answered at once after its last transaction and the next one
 * decided only then. Measured (bench §3, alternated): 1,000 in flight over 1,000 counters and on
 * one, +10–20 % commands per second against one call of 1,000.
 */
const commandsPerMessage = Math.min(commandsPerTransaction, maxCommandsPerCall);

/**
 * The transports implement the engine's methods; this adds command ids, and, over the
 * SharedWorker's port (`together`), sends the commands a tab issues in one task together: one
 * alone as `execute`, several as one `executeMany` (at most `commandsPerMessage` each), each
 * answered on its own promise as if it had gone alone. Not through a leader tab: a call the
 * leader took and did not answer before it closed is sent again to the next one, which can
 * tell a command it already applied only among its stream's latest events (and a leader of an
 * older build does not know `executeMany`); there each command goes, and is answered, alone.
 */
export function clientOver(
  transport: EngineClient['transport'],
  api: { readonly call: EngineMethods; readonly subscribe: EngineClient['subscribe'] },
  together = transport === 'shared-worker',
): EngineClient {
  let inFlight = 0;
  let idle: (() => void)[] = [];
  type Queued = {
    readonly request: ExecuteRequest;
    readonly resolve: (result: ExecuteResult) => void;
    readonly reject: (error: unknown) => void;
  };
  let queued: Queued[] = [];
  const alone = ({ request, resolve, reject }: Queued) => {
    try {
      api.call.execute(request).then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  };
  const send = () => {
    const all = queued;
    queued = [];
    // A call the browser cannot send fails only after the calls made after it have gone, so its
    // commands, sent again one by one, would land after those. With more than one call, each is
    // checked first, and one that cannot be sent goes command by command, in its place: only the
    // command that cannot be sent fails, and the others keep their order.
    const checked = all.length > commandsPerMessage;
    for (let i = 0; i < all.length; i += commandsPerMessage) {
      const part = all.slice(i, i + commandsPerMessage);
      if (part.length === 1 || (checked && !sendable(part.map(({ request }) => request)))) {
        part.forEach(alone);
        continue;
      }
      const answered = (outcomes: readonly ExecuteOutcome[]) =>
        part.forEach(({ resolve, reject }, k) => {
          const outcome = outcomes[k];
          if (!outcome)
            reject(new TallyError('unavailable', 'The engine left a command unanswered.'));
          else if (outcome.type === 'failed') reject(reviveError(outcome));
          else resolve(outcome);
        });
      // A command the browser cannot send (a function in it, say) fails the one message: then
      // nothing was sent, and each goes alone, so that only it fails.
      const unsent = (error: unknown) =>
        error instanceof DOMException && error.name === 'DataCloneError'
          ? part.forEach(alone)
          : part.forEach(({ reject }) => reject(error));
      try {
        api.call.executeMany(part.map(({ request }) => request)).then(answered, unsent);
      } catch (error) {
        unsent(error);
      }
    }
  };
  const methods = Object.fromEntries(
    methodNames.map((method) => [method, api.call[method]]),
  ) as unknown as EngineMethods;
  return {
    ...methods,
    transport,
    async execute(stream, commands) {
      inFlight++;
      try {
        return await new Promise<ExecuteResult>((resolve, reject) => {
          const command: Queued = {
            request: {
              stream,
              commands: (Array.isArray(commands) ? commands : [commands]) as Record<
                string,
                unknown
              >[],
              commandId: crypto.randomUUID(),
            },
            resolve,
            reject,
          };
          if (!together) return alone(command);
          if (queued.length === 0) queueMicrotask(send);
          queued.push(command);
        });
      } finally {
        if (--inFlight === 0) for (const wake of idle.splice(0)) wake();
      }
    },
    ...sharedViews(api.subscribe),
    whenIdle: () =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => (idle = [...idle, resolve])),
  };
}

type Listener = (update: EngineUpdate) => void;

/** A view's rows as the tab holds them (`ViewRows`), with what changed between updates. */
export type HeldRows<Row = unknown> = ReadonlyMap<string, Row> & {
  /** Counts the view's updates in this tab. */
  readonly revision: number;
  /**
   * The keys written or removed by the updates after `earlier`'s, up to this one; undefined when
   * that is not known (another subscription's rows, a reset since, or too long ago): then
   * anything may have changed.
   */
  changedSince(earlier: HeldRows<Row>): ReadonlySet<string> | undefined;
};

/** How many updates back a view remembers which keys they changed. */
const changesKept = 64;

type Changes = { revision: number; keys: readonly string[] | undefined }[];

/**
 * A view's rows as the tab holds them: one Map, changed in place by each update (copying it
 * cost a 100,000-counter list 13 ms a count), seen through an object made anew for each update,
 * so what keys on its identity (React's state and memos) sees every update. Any of them reads
 * the rows as they are now: one kept from before an update shows that update too.
 */
class ViewRows implements HeldRows {
  constructor(
    private readonly rows: Map<string, unknown>,
    readonly revision: number,
    private readonly changes: Changes,
  ) {}
  changedSince(earlier: HeldRows): ReadonlySet<string> | undefined {
    if (!(earlier instanceof ViewRows) || earlier.changes !== this.changes) return undefined;
    // The log holds consecutive revisions, the oldest dropped first.
    const { revision } = earlier;
    const oldest = this.changes[0]?.revision ?? Infinity;
    if (revision > this.revision || (revision < this.revision && revision + 1 < oldest))
      return undefined;
    const keys = new Set<string>();
    for (const change of this.changes) {
      if (change.revision <= revision || change.revision > this.revision) continue;
      if (change.keys === undefined) return undefined;
      for (const key of change.keys) keys.add(key);
    }
    return keys;
  }
  get size(): number {
    return this.rows.size;
  }
  get(key: string): unknown {
    return this.rows.get(key);
  }
  has(key: string): boolean {
    return this.rows.has(key);
  }
  keys(): MapIterator<string> {
    return this.rows.keys();
  }
  values(): MapIterator<unknown> {
    return this.rows.values();
  }
  entries(): MapIterator<[string, unknown]> {
    return this.rows.entries();
  }
  [Symbol.iterator](): MapIterator<[string, unknown]> {
    return this.rows[Symbol.iterator]();
  }
  forEach(
    callback: (value: unknown, key: string, map: ReadonlyMap<string, unknown>) => void,
    thisArg?: unknown,
  ): void {
    this.rows.forEach((value, key) => callback.call(thisArg, value, key, this));
  }
}

/**
 * A tab's view subscriptions: one to the engine per view, however many watchers it has here, and
 * the rows it last sent kept beside it. A watcher that comes later gets them at once (a reset,
 * without asking the engine);
 * the app's first script asks for the list before React has loaded (app/main.ts), so the first
 * render can show it (`viewRows`) instead of asking then and rendering again when it comes.
 */
function sharedViews(
  subscribe: EngineClient['subscribe'],
): Pick<EngineClient, 'subscribe' | 'viewRows' | 'viewListed' | 'showFirstScreen'> {
  // One entry per subscription (the same callback may subscribe twice, and end each alone).
  type Watcher = { readonly onUpdate: Listener };
  type Shared = {
    /** What the engine last sent, changed in place; `rows` shows it to the tab. */
    held?: Map<string, unknown>;
    rows?: ViewRows;
    revision: number;
    /** The last updates' changed keys (undefined: a reset), oldest first. */
    readonly changes: Changes;
    listed?: number;
    /** The engine has sent this view (a first screen the page read is shown only until then). */
    heard?: boolean;
    /** What is shown is a first screen the page read itself, and the engine has sent nothing. */
    fromPage?: boolean;
    readonly watchers: Set<Watcher>;
    end(): void;
  };
  const views = new Map<string, Shared>();
  const watch = (view: string): Shared => {
    const known = views.get(view);
    if (known) return known;
    const shared: Shared = { watchers: new Set(), end: () => undefined, revision: 0, changes: [] };
    views.set(view, shared);
    shared.end = subscribe({ topic: 'view', view }, (update) => {
      if (update.type !== 'view' || update.view !== view) return;
      const fromPage = shared.fromPage;
      shared.heard = true;
      shared.fromPage = false;
      // The engine's own first screen is the record the page showed (the engine reads it as its
      // database opens, before it can write): not rendered twice; its whole view follows. (Its
      // first update is always a reset: EngineHost.subscribe.)
      if (fromPage && update.reset && update.listed !== undefined) return;
      receive(shared, update);
    });
    return shared;
  };
  const receive = (shared: Shared, update: Extract<EngineUpdate, { type: 'view' }>): void => {
    const rows = update.reset || !shared.held ? new Map<string, unknown>() : shared.held;
    for (const key of update.removed) rows.delete(key);
    for (const { key, value } of update.rows) rows.set(key, value);
    shared.held = rows;
    shared.revision++;
    shared.changes.push({
      revision: shared.revision,
      keys: update.reset ? undefined : [...update.removed, ...update.rows.map(({ key }) => key)],
    });
    if (shared.changes.length > changesKept) shared.changes.shift();
    shared.rows = new ViewRows(rows, shared.revision, shared.changes);
    if (update.reset) shared.listed = update.listed;
    for (const { onUpdate } of shared.watchers)
      try {
        onUpdate(update);
      } catch (error) {
        // One watcher's failure is its own: the others, and the tab's subscription, go on.
        console.error('Tally: a view watcher failed', error);
      }
  };
  return {
    subscribe(request, onUpdate) {
      if (request.topic !== 'view') return subscribe(request, onUpdate);
      const { view } = request;
      const shared = watch(view);
      const watcher: Watcher = { onUpdate };
      shared.watchers.add(watcher);
      let ended = false;
      // After `subscribe` returns, as an answer from the engine would be (a watcher may end its
      // subscription from its callback); a reset, so an update in between changes nothing.
      queueMicrotask(() => {
        if (ended || !shared.rows) return;
        onUpdate({
          type: 'view',
          view,
          reset: true,
          rows: [...shared.rows].map(([key, value]) => ({ key, value })),
          removed: [],
          ...(shared.listed === undefined ? {} : { listed: shared.listed }),
        });
      });
      return () => {
        if (ended) return;
        ended = true;
        shared.watchers.delete(watcher);
        if (shared.watchers.size > 0 || views.get(view) !== shared) return;
        views.delete(view);
        shared.end();
      };
    },
    viewRows: (view) => views.get(view)?.rows,
    viewListed: (view) => views.get(view)?.listed,
    showFirstScreen({ view, rows, listed }) {
      const shared = views.get(view);
      if (!shared || shared.heard) return false;
      shared.fromPage = true;
      receive(shared, { type: 'view', view, reset: true, rows: [...rows], removed: [], listed });
      return true;
    },
  };
}

export function connectEngine(): EngineClient {
  installErrorTransfer();
  if (typeof SharedWorker === 'function') return connectSharedWorker();
  // Only browsers without SharedWorker pay for the leader election code (and its validation).
  return deferred(import('./leader-client.ts').then(({ connectLeader }) => connectLeader()));
}

/** A client usable at once, whose calls wait for the real one. */
function deferred(ready: Promise<EngineClient>): EngineClient {
  let resolved: EngineClient | undefined;
  void ready.then((client) => (resolved = client)).catch(() => undefined);
  const methods = Object.fromEntries(
    methodNames.map((method) => [
      method,
      (...args: unknown[]) =>
        ready.then((client) =>
          (client[method] as unknown as (...a: unknown[]) => Promise<unknown>)(...args),
        ),
    ]),
  ) as unknown as EngineMethods;
  return {
    ...methods,
    transport: 'leader',
    execute: (stream, commands) => ready.then((client) => client.execute(stream, commands)),
    subscribe(request, onUpdate) {
      let stop: (() => void) | undefined;
      let stopped = false;
      ready.then(
        (client) => {
          if (!stopped) stop = client.subscribe(request, onUpdate);
        },
        (error: unknown) => {
          // Its script could not be loaded (offline, never kept here): said, not an endless wait.
          if (stopped || request.topic !== 'notices') return;
          onUpdate({
            type: 'notice',
            notice: 'damaged',
            message: `Tally could not start its engine here: ${toTallyError(error).message} Reload Tally while online.`,
          });
        },
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },
    viewRows: (view) => resolved?.viewRows(view),
    viewListed: (view) => resolved?.viewListed(view),
    // The leader's client watches views once it is connected (the subscriptions above wait for
    // it, and were made first): shown then, unless the engine has sent the view by then.
    showFirstScreen(screen) {
      if (resolved) return resolved.showFirstScreen(screen);
      void ready.then((client) => client.showFirstScreen(screen)).catch(() => undefined);
      return false;
    },
    whenIdle: () => ready.then((client) => client.whenIdle()),
  };
}

export type { EngineApi };
