import { installErrorTransfer } from '../browser/comlink-errors.ts';
import type {
  EngineApi,
  EngineMethods,
  EngineUpdate,
  ExecuteResult,
  SubscribeRequest,
} from '../core/engine-protocol.ts';
import { methodNames } from '../core/engine-methods.ts';
import { connectSharedWorker } from './shared-worker-client.ts';

/** What the UI uses, whichever way the engine is reached. */
export type EngineClient = Omit<EngineMethods, 'execute'> & {
  readonly transport: 'shared-worker' | 'leader';
  /** Runs a command (or an atomic batch) on a stream, under a fresh command id. */
  execute(stream: string, commands: object | readonly object[]): Promise<ExecuteResult>;
  /** Starts a live subscription; the returned function ends it and releases its proxy. */
  subscribe(request: SubscribeRequest, onUpdate: (update: EngineUpdate) => void): () => void;
  /** Resolves once every command this tab sent has been answered (before a reload). */
  whenIdle(): Promise<void>;
};

/** The transports implement the engine's methods; this adds command ids and batches. */
export function clientOver(
  transport: EngineClient['transport'],
  api: { readonly call: EngineMethods; readonly subscribe: EngineClient['subscribe'] },
): EngineClient {
  let inFlight = 0;
  let idle: (() => void)[] = [];
  const methods = Object.fromEntries(
    methodNames.map((method) => [method, api.call[method]]),
  ) as unknown as EngineMethods;
  return {
    ...methods,
    transport,
    async execute(stream, commands) {
      inFlight++;
      try {
        return await api.call.execute({
          stream,
          commands: (Array.isArray(commands) ? commands : [commands]) as Record<string, unknown>[],
          commandId: crypto.randomUUID(),
        });
      } finally {
        if (--inFlight === 0) for (const wake of idle.splice(0)) wake();
      }
    },
    subscribe: api.subscribe,
    whenIdle: () =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => (idle = [...idle, resolve])),
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
      void ready.then((client) => {
        if (!stopped) stop = client.subscribe(request, onUpdate);
      });
      return () => {
        stopped = true;
        stop?.();
      };
    },
    whenIdle: () => ready.then((client) => client.whenIdle()),
  };
}

export type { EngineApi };
