import type { CounterCommand } from '../core/counter.ts';
import type {
  CounterResult,
  EngineApi,
  EngineInfo,
  EngineUpdate,
  SubscribeRequest,
} from '../core/engine-api.ts';
import { installErrorTransfer } from '../core/comlink-errors.ts';
import { connectSharedWorker } from './shared-worker-client.ts';

/** What the UI uses, whichever way the engine is reached. */
export interface EngineClient {
  readonly transport: 'shared-worker' | 'leader';
  info(): Promise<EngineInfo>;
  execute(
    stream: string,
    commands: CounterCommand | readonly CounterCommand[],
  ): Promise<CounterResult>;
  /** Starts a live subscription; the returned function ends it and releases its proxy. */
  subscribe(request: SubscribeRequest, onUpdate: (update: EngineUpdate) => void): () => void;
  /** Resolves once every command this tab sent has been answered (before a reload). */
  whenIdle(): Promise<void>;
  startSync: EngineApi['startSync'];
  joinSpace: EngineApi['joinSpace'];
  leaveSpace: EngineApi['leaveSpace'];
  dismissRejection: EngineApi['dismissRejection'];
  setOnline: EngineApi['setOnline'];
}

/** The transports implement the engine API; this adds command ids and batches. */
export function clientOver(
  transport: EngineClient['transport'],
  api: {
    call: EngineApi;
    subscribe: EngineClient['subscribe'];
  },
): EngineClient {
  let inFlight = 0;
  let idle: (() => void)[] = [];
  return {
    transport,
    info: () => api.call.info(),
    async execute(stream, commands) {
      inFlight++;
      try {
        return await api.call.execute({
          stream,
          commands: (Array.isArray(commands) ? commands : [commands]) as CounterCommand[],
          commandId: crypto.randomUUID(),
        });
      } finally {
        if (--inFlight === 0) for (const wake of idle.splice(0)) wake();
      }
    },
    subscribe: api.subscribe,
    startSync: (origin) => api.call.startSync(origin),
    joinSpace: (origin, token) => api.call.joinSpace(origin, token),
    leaveSpace: () => api.call.leaveSpace(),
    dismissRejection: (commandId) => api.call.dismissRejection(commandId),
    setOnline: (online) => api.call.setOnline(online),
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
  return {
    transport: 'leader',
    info: () => ready.then((client) => client.info()),
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
    startSync: (origin) => ready.then((client) => client.startSync(origin)),
    joinSpace: (origin, token) => ready.then((client) => client.joinSpace(origin, token)),
    leaveSpace: () => ready.then((client) => client.leaveSpace()),
    dismissRejection: (id) => ready.then((client) => client.dismissRejection(id)),
    setOnline: (online) => ready.then((client) => client.setOnline(online)),
  };
}
