import '../browser/zod-jitless.ts';
import { proxy, wrap, type Remote } from 'comlink';
import {
  checkAnswer,
  engineUpdateSchema,
  methodsOver,
  type EngineApi,
  type EngineUpdate,
  type SubscribeRequest,
} from '../core/engine-protocol.ts';
import { reviveError, TallyError, toTallyError } from '../core/errors.ts';
import { models } from '../core/models/index.ts';
import { clientOver, type EngineClient } from './engine-client.ts';
import { leaderCacheName } from './leader-cache.ts';
import {
  tabMessageSchema,
  unknownCallSchema,
  type Method,
  type TabMessage,
} from './tab-messages.ts';

/** An update from another tab, checked as a whole and each view row against its view's schema. */
function checkUpdate(raw: unknown): EngineUpdate | undefined {
  const update = engineUpdateSchema.safeParse(raw);
  if (!update.success) return undefined;
  if (update.data.type !== 'view') return update.data;
  const schema = models.view(update.data.view)?.schema;
  if (!schema) return undefined;
  return update.data.rows.every(({ value }) => schema.safeParse(value).success)
    ? update.data
    : undefined;
}

type Call = {
  readonly method: Method;
  args: readonly unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
};
type Sub = {
  readonly request: SubscribeRequest;
  readonly onUpdate: (u: EngineUpdate) => void;
  remote?: Promise<number>;
};

/**
 * The fallback for browsers without SharedWorker: the tabs elect a leader with a Web Lock; the
 * leader runs the engine in a dedicated Worker and serves the other tabs over a BroadcastChannel.
 * When the leader tab closes, the lock passes to another tab, which starts the engine and
 * announces itself; every tab then re-sends what is unanswered. Commands carry their id and are
 * re-sent as retries, so the engine applies each at most once.
 */
/** Calls one of the engine's methods by name; arguments were validated by the engine's side. */
const invoke = (remote: Remote<EngineApi>, method: Method, args: readonly unknown[]) =>
  (remote[method] as unknown as (...a: readonly unknown[]) => Promise<unknown>)(...args);

/**
 * Keeps this script for offline starts (app/leader-cache.ts), the previous build's copy dropped.
 * Its static imports are in the precache: it shares them with the page.
 */
async function keepForOffline(): Promise<void> {
  if (typeof caches === 'undefined') return;
  const cache = await caches.open(leaderCacheName);
  await cache.add(import.meta.url);
  for (const request of await cache.keys())
    if (request.url !== import.meta.url) await cache.delete(request);
}

export async function connectLeader(): Promise<EngineClient> {
  keepForOffline().catch((error: unknown) =>
    // Online it is fetched as needed; only an offline start without SharedWorker misses it.
    console.warn('Tally: the leader fallback could not be kept for offline use', error),
  );
  const tabId = crypto.randomUUID();
  const channel = new BroadcastChannel('tally-tabs');
  const post = (message: TabMessage) => channel.postMessage(message);
  const calls = new Map<number, Call>();
  const subs = new Map<number, Sub>();
  let nextId = 1;
  let engine: Remote<EngineApi> | undefined;
  /** Follower subscriptions this leader serves: `${tab}:${sub}` → the engine's id. */
  const served = new Map<string, Promise<number>>();

  // Held for the tab's life: the leader learns a follower is gone when it can take this lock.
  // Taken before this tab says anything: a leader that could take it would think the tab gone.
  await new Promise<void>((held) => {
    void navigator.locks.request(`tally-tab-${tabId}`, () => {
      held();
      return new Promise<never>(() => undefined);
    });
  });
  const watched = new Set<string>();

  const runLocally = (id: number, call: Call) => {
    const remote = engine!;
    const run = invoke(remote, call.method, call.args);
    run.then(
      (value) => {
        if (calls.delete(id)) call.resolve(value);
      },
      (error: unknown) => {
        if (calls.delete(id)) call.reject(error);
      },
    );
  };

  const subscribeLocally = (sub: Sub) => {
    sub.remote = engine!.subscribe(sub.request, proxy(sub.onUpdate));
    sub.remote.catch((error: unknown) => console.error('Tally: subscription failed', error));
  };

  const send = (id: number, call: Call) => {
    try {
      if (engine) runLocally(id, call);
      else post({ kind: 'call', from: tabId, id, method: call.method, args: [...call.args] });
    } catch (error) {
      // It cannot be sent at all (a function in its arguments, say): it fails now, and is not
      // kept to be sent again to the next leader.
      calls.delete(id);
      call.reject(error);
    }
  };

  const resendAll = () => {
    for (const [id, call] of calls) {
      // Whoever had it may have committed it before going away.
      if (call.method === 'execute') call.args = [{ ...(call.args[0] as object), retry: true }];
      if (call.method === 'executeMany')
        call.args = [(call.args[0] as object[]).map((request) => ({ ...request, retry: true }))];
      send(id, call);
    }
    for (const [id, sub] of subs) {
      if (engine) subscribeLocally(sub);
      else post({ kind: 'subscribe', from: tabId, sub: id, request: sub.request });
    }
  };

  const serveFollower = (message: TabMessage) => {
    const remote = engine!;
    switch (message.kind) {
      case 'call': {
        const run = invoke(remote, message.method, message.args);
        run.then(
          (value) => post({ kind: 'reply', to: message.from, id: message.id, ok: true, value }),
          (error: unknown) =>
            post({
              kind: 'reply',
              to: message.from,
              id: message.id,
              ok: false,
              error: toTallyError(error).toJSON(),
            }),
        );
        return;
      }
      case 'subscribe': {
        const key = `${message.from}:${message.sub}`;
        const { from, sub } = message;
        const previous = served.get(key);
        if (previous) void previous.then((n) => remote.unsubscribe(n)).catch(() => undefined);
        const id = remote.subscribe(
          message.request as SubscribeRequest,
          proxy((update: EngineUpdate) => post({ kind: 'update', to: from, sub, update })),
        );
        id.catch(() => served.delete(key));
        served.set(key, id);
        // When the follower's tab lock frees, the tab is gone: end what it subscribed.
        if (!watched.has(from)) {
          watched.add(from);
          void navigator.locks.request(`tally-tab-${from}`, async () => {
            watched.delete(from);
            for (const [k, n] of served)
              if (k.startsWith(`${from}:`)) {
                served.delete(k);
                void n.then((x) => remote.unsubscribe(x)).catch(() => undefined);
              }
          });
        }
        return;
      }
      case 'unsubscribe': {
        const key = `${message.from}:${message.sub}`;
        const id = served.get(key);
        served.delete(key);
        void id?.then((n) => remote.unsubscribe(n)).catch(() => undefined);
        return;
      }
    }
  };

  channel.onmessage = ({ data }: MessageEvent<unknown>) => {
    const parsed = tabMessageSchema.safeParse(data);
    if (!parsed.success) {
      // A newer tab's call this build cannot serve is refused in words; anything else that is
      // not ours, or malformed, is never acted on.
      const unknown = engine ? unknownCallSchema.safeParse(data) : undefined;
      if (unknown?.success)
        post({
          kind: 'reply',
          to: unknown.data.from,
          id: unknown.data.id,
          ok: false,
          error: new TallyError(
            'outdated',
            'Your Tally tabs run different versions. Reload them to keep going.',
          ).toJSON(),
        });
      return;
    }
    const message = parsed.data;
    if (message.kind === 'leader') {
      if (!engine) resendAll();
      return;
    }
    if ('to' in message && message.to !== tabId) return;
    if (message.kind === 'reply') {
      const call = calls.get(message.id);
      if (!call) return;
      calls.delete(message.id);
      if (!message.ok) {
        call.reject(reviveError(message.error));
        return;
      }
      // Another tab's answer is an edge: it reaches the UI only in the shape the method has.
      try {
        call.resolve(checkAnswer(call.method, message.value));
      } catch (error) {
        call.reject(error);
      }
      return;
    }
    if (message.kind === 'update') {
      const update = checkUpdate(message.update);
      // A malformed update is dropped, never shown; the next reset brings the truth.
      if (update) subs.get(message.sub)?.onUpdate(update);
      return;
    }
    if (engine) serveFollower(message);
  };

  void navigator.locks.request('tally-leader', async () => {
    const worker = new Worker(new URL('../worker/dedicated-worker.ts', import.meta.url), {
      type: 'module',
      name: 'tally-engine',
    });
    engine = wrap<EngineApi>(worker);
    resendAll();
    post({ kind: 'leader', tab: tabId });
    // Lead for the rest of this tab's life.
    await new Promise<never>(() => undefined);
  });

  const call = (method: Method, args: readonly unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const entry: Call = { method, args, resolve, reject };
      calls.set(id, entry);
      send(id, entry);
    });

  return clientOver('leader', {
    call: methodsOver(call),
    subscribe(request, onUpdate) {
      const id = nextId++;
      const sub: Sub = { request, onUpdate };
      subs.set(id, sub);
      if (engine) subscribeLocally(sub);
      else post({ kind: 'subscribe', from: tabId, sub: id, request });
      return () => {
        if (!subs.delete(id)) return;
        if (engine) void sub.remote?.then((n) => engine?.unsubscribe(n)).catch(() => undefined);
        else post({ kind: 'unsubscribe', from: tabId, sub: id });
      };
    },
  });
}
