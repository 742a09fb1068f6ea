import { z } from 'zod';
import { counterRowSchema } from './counter-projections.ts';
import { counterEventSchemas } from './counter.ts';
import { envelopeSchema, streamIdSchema } from './envelope.ts';
import type { CounterResult, EngineApi, EngineUpdate } from './engine-api.ts';

/**
 * The engine's answers and updates as schemas, for the one path where they cross from another
 * tab (the leader fallback's BroadcastChannel): there they are validated like any message from
 * another thread before the UI sees them.
 */
const eventType = z.enum(Object.keys(counterEventSchemas) as [keyof typeof counterEventSchemas]);

const historyEntrySchema = z.strictObject({
  version: z.number().int().positive(),
  type: eventType,
  name: z.string(),
  value: z.number().int().nonnegative(),
  time: z.number(),
  device: z.string(),
});

export const engineUpdateSchema: z.ZodType<EngineUpdate> = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('counters'),
    reset: z.boolean(),
    rows: z.array(counterRowSchema),
  }),
  z.strictObject({
    type: z.literal('history'),
    stream: streamIdSchema,
    reset: z.boolean(),
    entries: z.array(historyEntrySchema),
  }),
  z.strictObject({
    type: z.literal('notice'),
    notice: z.enum(['outdated', 'damaged']),
    message: z.string(),
  }),
  z.strictObject({
    type: z.literal('sync'),
    state: z.enum(['off', 'offline', 'syncing', 'synced']),
    pending: z.number().int().nonnegative(),
    lastError: z.string().optional(),
    space: z.string().optional(),
    pairingLink: z.string().optional(),
    rejected: z.array(
      z.strictObject({
        commandId: z.string(),
        stream: streamIdSchema,
        name: z.string().optional(),
        reason: z.string(),
        at: z.number(),
      }),
    ),
  }),
]) as unknown as z.ZodType<EngineUpdate>;

const counterResultSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('accepted'),
    stream: streamIdSchema,
    version: z.number().int().nonnegative(),
    events: z.array(envelopeSchema.extend({ position: z.number().int().positive() })),
  }),
  z.strictObject({ type: z.literal('rejected'), code: z.literal('rejected'), reason: z.string() }),
]) as unknown as z.ZodType<CounterResult>;

const nothing = z.undefined();

/** What each engine method answers. */
export const engineAnswerSchemas = {
  info: z.strictObject({
    build: z.string(),
    device: z.string(),
    host: z.enum(['shared-worker', 'leader-worker']),
  }),
  execute: counterResultSchema,
  startSync: z.strictObject({ space: z.string(), pairingLink: z.string() }),
  joinSpace: nothing,
  leaveSpace: nothing,
  dismissRejection: nothing,
  setOnline: nothing,
} satisfies Record<Exclude<keyof EngineApi, 'subscribe' | 'unsubscribe'>, z.ZodType>;
