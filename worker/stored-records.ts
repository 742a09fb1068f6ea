import { z } from '../core/zod.ts';
import { streamIdSchema } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import { cursorSchema, spaceIdSchema } from '../core/protocol.ts';
import { streamHeadSchema } from '../core/append-plan.ts';
import { spaceTokenSchema, syncOriginSchema, commandIdSchema } from '../core/engine-protocol.ts';
import type { SyncSettings } from '../core/sync-port.ts';
import type { OutboxRow, StreamHead } from './idb-schema.ts';

/**
 * The engine's own bookkeeping records, validated as they are read back like events and rows
 * are: storage is an edge. A damaged one is named, never used, and never written over.
 */

const outboxRowSchema = z.object({
  seq: z.optional(z.number().check(z.int(), z.positive())),
  commandId: commandIdSchema,
  stream: streamIdSchema,
  commands: z.array(z.unknown()),
  events: z.array(
    z.object({
      id: z.string().check(z.minLength(1)),
      version: z.number().check(z.int(), z.positive()),
    }),
  ),
});

const syncConfigSchema = z.object({
  key: z.literal('sync'),
  origin: syncOriginSchema,
  space: spaceIdSchema,
  token: spaceTokenSchema,
});

const cursorRecordSchema = z.object({
  key: z.literal('cursor'),
  space: z.string(),
  cursor: cursorSchema,
});

function check<T>(schema: z.ZodMiniType<T>, value: unknown, what: string, plural = false): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new TallyError(
      'invalid',
      `${what} ${plural ? 'are' : 'is'} damaged (${parsed.error.issues
        .slice(0, 2)
        .map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`)
        .join('; ')}); Tally leaves it as it is.`,
    );
  return parsed.data;
}

export const checkOutboxRow = (row: unknown): OutboxRow =>
  check(outboxRowSchema, row, 'A stored pending command');

export const checkStreamHead = (head: unknown): StreamHead =>
  check(streamHeadSchema, head, 'A stored stream head');

export function checkSyncConfig(record: unknown): SyncSettings {
  const { origin, space, token } = check(
    syncConfigSchema,
    record,
    'The stored sync settings',
    true,
  );
  return { origin, space, token };
}

export const checkCursor = (record: unknown): { space: string; cursor: string } =>
  check(cursorRecordSchema, record, 'The stored feed cursor');

const joinRecordSchema = z.object({
  key: z.literal('join'),
  space: z.string(),
  cursor: cursorSchema,
});

export const checkJoin = (record: unknown): { space: string; cursor: string } =>
  check(joinRecordSchema, record, 'The stored join of a space');
