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
  /**
   * `outdated`: a newer Tally took over writing; this tab must reload. `damaged`: stored records
   * failed validation; they are named, left as they are, and never written over.
   */
  readonly notice: 'outdated' | 'damaged';
  readonly message: string;
};
/** A command that passed here but not once the other devices' changes came in. */
export type SyncRejection = {
  readonly commandId: string;
  readonly stream: string;
  /** The counter's name, when known. */
  readonly name?: string;
  readonly reason: string;
  readonly at: number;
};
export type SyncUpdate = {
  readonly type: 'sync';
  /** `off`: no space joined; `offline`: the server cannot be reached (retrying with backoff). */
  readonly state: 'off' | 'offline' | 'syncing' | 'synced';
  /** Commands committed here and not yet accepted by the server. */
  readonly pending: number;
  readonly lastError?: string;
  readonly space?: string;
  /** Opens this space on another device: `${origin}/#pair=<token>`. */
  readonly pairingLink?: string;
  readonly rejected: readonly SyncRejection[];
};
export type EngineUpdate = CountersUpdate | HistoryUpdate | EngineNotice | SyncUpdate;

export const subscribeRequestSchema = z.discriminatedUnion('topic', [
  z.strictObject({ topic: z.literal('counters') }),
  z.strictObject({ topic: z.literal('history'), stream: streamIdSchema }),
  z.strictObject({ topic: z.literal('notices') }),
  z.strictObject({ topic: z.literal('sync') }),
]);

/** A sync server's origin: http(s) only, nothing after the host. */
export const syncOriginSchema = z
  .string()
  .max(200)
  .regex(/^https?:\/\/[^/?#\s]+$/, 'The server address must look like https://example.org.');
/** A space token as the server issues it: `t1.<space>.<signature>`. */
export const spaceTokenSchema = z
  .string()
  .regex(/^t1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43,128}$/, 'That is not a Tally pairing token.');
/**
 * What a pairing link carries: a pairing invite (`p1.…`, what devices show now) or, from an older
 * link, a device token of the space.
 */
export const pairingTokenSchema = z
  .string()
  .regex(
    /^(p1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{30}|t1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43,128})$/,
    'That is not a Tally pairing link.',
  );
export const commandIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);
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
  /** Creates a space on the server at `origin`, joins it and starts syncing. */
  startSync(origin: string): Promise<{ space: string; pairingLink: string }>;
  /** Joins an existing space (a pairing token from another device); local counters go too. */
  joinSpace(origin: string, token: string): Promise<void>;
  /** Stops syncing and forgets the token; local data stays. */
  leaveSpace(): Promise<void>;
  dismissRejection(commandId: string): Promise<void>;
  /** A hint that the network came or went; the engine also notices failures on its own. */
  setOnline(online: boolean): Promise<void>;
}
