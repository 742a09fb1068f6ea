import { z } from 'zod';
import type { ExecuteResult } from './aggregate-actor.ts';
import { counterCommandSchema, type CounterEvent } from './counter.ts';
import type { CounterRow } from './counter-projections.ts';
import { streamIdSchema } from './envelope.ts';

/**
 * What a tab may ask of the engine, whichever way it reaches it (SharedWorker port, or the
 * leader tab's dedicated worker). Every argument is validated on the engine's side: a message
 * from another thread is an edge.
 */
export const executeRequestSchema = z.strictObject({
  stream: streamIdSchema,
  commands: z.array(counterCommandSchema).min(1).max(100),
  /** Names the command; a retried command with the same id is applied at most once. */
  commandId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  /** Set when the caller may have sent this command before (its engine went away). */
  retry: z.boolean().optional(),
});
export type ExecuteRequest = z.input<typeof executeRequestSchema>;

export type HistoryEntry = {
  readonly version: number;
  readonly type: CounterEvent['type'];
  readonly name: string;
  /** The counter's value right after this event. */
  readonly value: number;
  readonly time: number;
  readonly device: string;
};

export type CounterResult = ExecuteResult<CounterEvent>;

/** Messages pushed to a tab's subscription callback. */
export type CountersUpdate = {
  readonly type: 'counters';
  /** `true` for the first message: `rows` is the whole list; otherwise only changed rows. */
  readonly reset: boolean;
  readonly rows: readonly CounterRow[];
};
export type HistoryUpdate = {
  readonly type: 'history';
  readonly stream: string;
  readonly reset: boolean;
  /** New entries in version order (all of them when `reset`). */
  readonly entries: readonly HistoryEntry[];
};
export type EngineNotice = {
  readonly type: 'notice';
  /** `outdated`: a newer Tally took over writing; this tab must reload. */
  readonly notice: 'outdated' | 'ready';
  readonly message: string;
};
export type EngineUpdate = CountersUpdate | HistoryUpdate | EngineNotice;

export const subscribeRequestSchema = z.discriminatedUnion('topic', [
  z.strictObject({ topic: z.literal('counters') }),
  z.strictObject({ topic: z.literal('history'), stream: streamIdSchema }),
  z.strictObject({ topic: z.literal('notices') }),
]);
export type SubscribeRequest = z.infer<typeof subscribeRequestSchema>;

export type EngineInfo = {
  readonly build: string;
  readonly device: string;
  readonly host: 'shared-worker' | 'leader-worker';
};

export interface EngineApi {
  info(): Promise<EngineInfo>;
  execute(request: ExecuteRequest): Promise<CounterResult>;
  /** `callback` is a Comlink proxy; it is released on unsubscribe. Answers a subscription id. */
  subscribe(request: SubscribeRequest, callback: (update: EngineUpdate) => void): Promise<number>;
  unsubscribe(id: number): Promise<void>;
}
