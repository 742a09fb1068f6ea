import type { Browser, CDPSession } from 'playwright-core';

type TargetInfo = { targetId: string; type: string; url: string };
type Call = <T>(method: string, params?: Record<string, unknown>) => Promise<T>;

const isEngine = (target: TargetInfo) =>
  target.type === 'shared_worker' && /\/assets\/shared-worker-[^/]+\.js$/.test(target.url);

/**
 * Finds the registry in the worker's heap: the one Map whose values are aggregate actors (objects
 * with `stream`, `env` and `mailbox`: property names survive minification). Called on the array
 * of every Map (`Runtime.queryObjects`); answers `{ map, actor }` or null.
 */
const FIND_ACTOR = `(function () {
  for (const map of this) {
    if (map.size === 0) continue;
    const actor = map.values().next().value;
    if (actor && typeof actor === 'object' && 'stream' in actor && 'env' in actor && 'mailbox' in actor)
      return { map, actor };
  }
  return null;
})`;

/**
 * The engine's SharedWorker seen through the DevTools protocol. Playwright covers pages, dedicated
 * and service workers but not shared workers, so this attaches to the worker target from a browser
 * session (non-flat mode: messages ride Target.sendMessageToTarget). Only one profile's engine may
 * be alive while a probe looks: targets of different profiles share the URL.
 */
export class EngineProbe {
  private constructor(private readonly cdp: CDPSession) {}

  static async open(browser: Browser): Promise<EngineProbe> {
    return new EngineProbe(await browser.newBrowserCDPSession());
  }

  async engines(): Promise<TargetInfo[]> {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    return targetInfos.filter(isEngine);
  }

  /** Resolves once no engine worker is alive (every tab of its profile closed). */
  async waitGone(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.engines()).length > 0) {
      if (Date.now() > deadline) throw new Error('The engine SharedWorker did not go away.');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Attaches to the one live engine worker for the length of `work`. */
  private async attached<T>(work: (call: Call) => Promise<T>): Promise<T> {
    const engines = await this.engines();
    if (engines.length !== 1)
      throw new Error(`Expected one engine worker alive, found ${engines.length}.`);
    const { sessionId } = await this.cdp.send('Target.attachToTarget', {
      targetId: engines[0]!.targetId,
      flatten: false,
    });
    let nextId = 0;
    const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    const listener = (event: { sessionId?: string; message: string }) => {
      if (event.sessionId !== sessionId) return;
      const message = JSON.parse(event.message) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      const pending = message.id === undefined ? undefined : waiting.get(message.id);
      if (!pending) return;
      waiting.delete(message.id!);
      if (message.error) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result);
    };
    this.cdp.on('Target.receivedMessageFromTarget', listener);
    const call: Call = (method, params = {}) => {
      const id = ++nextId;
      const answer = new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
      void this.cdp
        .send('Target.sendMessageToTarget', {
          sessionId,
          message: JSON.stringify({ id, method, params }),
        })
        .catch((error: Error) => waiting.get(id)?.reject(error));
      return answer as Promise<never>;
    };
    try {
      return await work(call);
    } finally {
      this.cdp.off('Target.receivedMessageFromTarget', listener);
      await this.cdp.send('Target.detachFromTarget', { sessionId }).catch(() => undefined);
    }
  }

  /** Used JS heap of the engine worker after a full garbage collection, in bytes. */
  heapAfterGc(): Promise<number> {
    return this.attached(async (call) => {
      await call('HeapProfiler.collectGarbage');
      const { usedSize } = await call<{ usedSize: number }>('Runtime.getHeapUsage');
      return usedSize;
    });
  }

  /**
   * Reads the registry out of the worker's heap: the one Map whose values are aggregate actors
   * (objects with `stream`, `env` and `mailbox`: property names survive minification). Answers
   * its size (resident actors) and the event store's transaction counter, reached through an
   * actor's environment. Undefined when no actor is resident.
   */
  registry(): Promise<{ resident: number; transactions: number } | undefined> {
    return this.onRegistry<{ resident: number; transactions: number }>(
      `function () {
        const found = ${FIND_ACTOR}.call(this);
        return found && { resident: found.map.size, transactions: found.actor.env.store.transactions };
      }`,
    );
  }

  /** Calls `fn` (source text) on the worker's array of every Map, answering its value by value. */
  private onRegistry<T>(fn: string): Promise<T | undefined> {
    return this.attached(async (call) => {
      const proto = await call<{ result: { objectId: string } }>('Runtime.evaluate', {
        expression: 'Map.prototype',
      });
      const maps = await call<{ objects: { objectId: string } }>('Runtime.queryObjects', {
        prototypeObjectId: proto.result.objectId,
      });
      const found = await call<{
        result: { value: T | null };
        exceptionDetails?: { exception?: { description?: string }; text: string };
      }>('Runtime.callFunctionOn', {
        objectId: maps.objects.objectId,
        returnByValue: true,
        functionDeclaration: fn,
      });
      await call('Runtime.releaseObjectGroup', { objectGroup: '' }).catch(() => undefined);
      if (found.exceptionDetails)
        throw new Error(
          `The engine worker threw: ${found.exceptionDetails.exception?.description ?? found.exceptionDetails.text}`,
        );
      return found.result.value ?? undefined;
    });
  }

  /** A CPU profile of the engine worker while `during` runs (for finding where time goes). */
  cpuProfile(during: () => Promise<unknown>): Promise<unknown> {
    return this.attached(async (call) => {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: 200 });
      await call('Profiler.start');
      await during();
      const { profile } = await call<{ profile: unknown }>('Profiler.stop');
      return profile;
    });
  }

  async close(): Promise<void> {
    await this.cdp.detach().catch(() => undefined);
  }
}
