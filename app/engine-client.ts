import type { CounterCommand } from '../core/counter.ts';
import type {
  CounterResult,
  EngineApi,
  EngineInfo,
  EngineUpdate,
  SubscribeRequest,
} from '../core/engine-api.ts';
import { installErrorTransfer } from '../core/comlink-errors.ts';
import { connectLeader } from './leader-client.ts';
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
}

/** The transports implement the engine API; this adds command ids and batches. */
export function clientOver(
  transport: EngineClient['transport'],
  api: {
    call: EngineApi;
    subscribe: EngineClient['subscribe'];
  },
): EngineClient {
  return {
    transport,
    info: () => api.call.info(),
    execute: (stream, commands) =>
      api.call.execute({
        stream,
        commands: (Array.isArray(commands) ? commands : [commands]) as CounterCommand[],
        commandId: crypto.randomUUID(),
      }),
    subscribe: api.subscribe,
  };
}

export function connectEngine(): EngineClient {
  installErrorTransfer();
  return typeof SharedWorker === 'function' ? connectSharedWorker() : connectLeader();
}
