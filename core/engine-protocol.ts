import { z } from './zod.ts';
import { envelopeSchema, streamIdSchema } from './envelope.ts';
import { maxCommandsPerCall, methodNames, type Method } from './engine-methods.ts';
import { deviceNameSchema, devicesResponseSchema } from './protocol.ts';
import { errorCodes, TallyError } from './errors.ts';
import { pairingTokenPattern } from './pairing-link.ts';

export { maxCommandsPerCall, methodNames, type Method };

/**
 * The tab ⇄ engine protocol, in one place (docs/architecture.md, "Tabs and the engine"): every
 * argument, answer and update as a schema, the types inferred from them, and one method table
 * from which the SharedWorker session, the tab client, the leader-tab fallback and the
 * validation of answers are all derived. Another thread is an edge: the engine validates every
 * argument, and a tab validates what comes from another tab.
 */

/** A sync server's origin: http(s) only, nothing after the host. */
export const syncOriginSchema = z
  .string()
  .check(
    z.maxLength(200),
    z.regex(/^https?:\/\/[^/?#\s]+$/, 'The server address must look like https://example.org.'),
  );
/** A space token as the server issues it: `t1.<space>.<signature>`. */
export const spaceTokenSchema = z
  .string()
  .check(
    z.regex(
      /^t1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43,128}$/,
      'That is not a Tally pairing token.',
    ),
  );
/**
 * What a pairing link carries: a pairing invite (`p1.…`, what devices show now) or, from an older
 * link, a device token of the space.
 */
export const pairingTokenSchema = z
  .string()
  .check(z.regex(pairingTokenPattern, 'That is not a Tally pairing link.'));
export const commandIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{8,64}$/, 'Not a valid command id.'));

export const executeRequestSchema = z.strictObject({
  stream: streamIdSchema,
  /** Parsed by the stream's model (its command schema) once the engine has routed it. */
  commands: z.array(z.record(z.string(), z.unknown())).check(z.minLength(1), z.maxLength(100)),
  /** Names the command; a retried command with the same id is applied at most once. */
  commandId: commandIdSchema,
  /** Set when the caller may have sent this command before (its engine went away). */
  retry: z.optional(z.boolean()),
});
export type ExecuteRequest = z.input<typeof executeRequestSchema>;

export const storedEventSchema = z.extend(envelopeSchema, {
  position: z.number().check(z.int(), z.positive()),
});

export const executeResultSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('accepted'),
    stream: streamIdSchema,
    /** The stream's local version after the command. */
    version: z.number().check(z.int(), z.nonnegative()),
    events: z.array(storedEventSchema),
  }),
  z.strictObject({ type: z.literal('rejected'), code: z.literal('rejected'), reason: z.string() }),
]);
export type ExecuteResult = z.infer<typeof executeResultSchema>;

/**
 * One command's outcome in an `executeMany` answer: its result, or what `execute` would have
 * thrown for it alone (a malformed request, an engine that could not write), as data.
 */
export const executeOutcomeSchema = z.union([
  executeResultSchema,
  z.strictObject({ type: z.literal('failed'), code: z.enum(errorCodes), message: z.string() }),
]);
export type ExecuteOutcome = z.infer<typeof executeOutcomeSchema>;

export const historyEntrySchema = z.strictObject({
  version: z.number().check(z.int(), z.positive()),
  type: envelopeSchema.shape.type,
  /** The aggregate's name and value right after this event (the model's fold). */
  name: z.string(),
  value: z.number().check(z.int(), z.nonnegative()),
  time: z.number(),
  device: z.string(),
  /** The command that decided it: the events of one command are one action of a person's. */
  command: z.string(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

export const syncRejectionSchema = z.strictObject({
  commandId: z.string(),
  stream: streamIdSchema,
  /** What the aggregate is called, when known. */
  name: z.optional(z.string()),
  reason: z.string(),
  at: z.number(),
  /** How many later changes to the same counter fell out with this one. */
  later: z.optional(z.number().check(z.int(), z.positive())),
});
/** A command that passed here but not once the other devices' changes came in. */
export type SyncRejection = z.infer<typeof syncRejectionSchema>;

/** `off`: no space joined; `offline`: the server cannot be reached (retrying with backoff). */
export const syncStateSchema = z.enum(['off', 'offline', 'syncing', 'synced']);
export type SyncState = z.infer<typeof syncStateSchema>;

const viewUpdateSchema = z.strictObject({
  type: z.literal('view'),
  view: z.string().check(z.maxLength(64)),
  /** `true` for the first message: `rows` is the whole view; otherwise only what changed. */
  reset: z.boolean(),
  /** Rows by key; their values are checked against the view's own schema where it matters. */
  rows: z.array(z.strictObject({ key: z.string(), value: z.unknown() })),
  /** Keys of rows that are gone. */
  removed: z.array(z.string()),
  /**
   * On a reset, before the engine has read the whole view (docs/architecture.md, "The first
   * screen"): `rows` are the first of the view's list, in its order, and the list holds `listed`
   * rows; a reset with the whole view follows.
   */
  listed: z.optional(z.number().check(z.int(), z.nonnegative())),
});
const historyUpdateSchema = z.strictObject({
  type: z.literal('history'),
  stream: streamIdSchema,
  reset: z.boolean(),
  /** New entries in version order (all of them when `reset`). */
  entries: z.array(historyEntrySchema),
});
const noticeSchema = z.strictObject({
  type: z.literal('notice'),
  /**
   * `outdated`: a newer Tally took over writing; this tab must reload. `damaged`: stored records
   * failed validation; they are named, left as they are, and never written over.
   */
  notice: z.enum(['outdated', 'damaged']),
  message: z.string(),
});
const syncUpdateSchema = z.strictObject({
  type: z.literal('sync'),
  state: syncStateSchema,
  /** Commands committed here and not yet accepted by the server. */
  pending: z.number().check(z.int(), z.nonnegative()),
  lastError: z.optional(z.string()),
  /** What kind of failure `lastError` tells: `too-many-requests` is the server asking to wait. */
  lastErrorCode: z.optional(z.enum(errorCodes)),
  /**
   * Counters this device shows that wait for a space it left (joined from that space's snapshots,
   * their early history is there): not in this space until the device rejoins that one.
   */
  waiting: z.optional(z.number().check(z.int(), z.positive())),
  space: z.optional(z.string()),
  rejected: z.array(syncRejectionSchema),
});

export const engineUpdateSchema = z.discriminatedUnion('type', [
  viewUpdateSchema,
  historyUpdateSchema,
  noticeSchema,
  syncUpdateSchema,
]);
export type EngineUpdate = z.infer<typeof engineUpdateSchema>;
export type ViewUpdate = z.infer<typeof viewUpdateSchema>;
export type HistoryUpdate = z.infer<typeof historyUpdateSchema>;
export type EngineNotice = z.infer<typeof noticeSchema>;
export type SyncUpdate = z.infer<typeof syncUpdateSchema>;

export const subscribeRequestSchema = z.discriminatedUnion('topic', [
  z.strictObject({ topic: z.literal('view'), view: z.string().check(z.maxLength(64)) }),
  z.strictObject({ topic: z.literal('history'), stream: streamIdSchema }),
  z.strictObject({ topic: z.literal('notices') }),
  z.strictObject({ topic: z.literal('sync') }),
]);
export type SubscribeRequest = z.infer<typeof subscribeRequestSchema>;

export const engineInfoSchema = z.strictObject({
  build: z.string(),
  device: z.string(),
  host: z.enum(['shared-worker', 'leader-worker']),
});
export type EngineInfo = z.infer<typeof engineInfoSchema>;

const nothing = z.void();

/** What importing a backup would add here, shown before the person confirms. */
export const importPreviewSchema = z.strictObject({
  /** Each counter (or the order of counters) the backup adds events to. */
  streams: z.array(
    z.strictObject({
      stream: streamIdSchema,
      name: z.string(),
      events: z.number().check(z.int(), z.positive()),
      /** True when this profile has nothing of it yet. */
      fresh: z.boolean(),
    }),
  ),
  /** Events it adds in all. */
  events: z.number().check(z.int(), z.nonnegative()),
  /** Events of the backup already here: they are not added again. */
  known: z.number().check(z.int(), z.nonnegative()),
  /** What stays as it is here, and why (its history here went another way). */
  skipped: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
});
export type ImportPreview = z.infer<typeof importPreviewSchema>;
export const importResultSchema = z.strictObject({
  events: z.number().check(z.int(), z.nonnegative()),
  streams: z.number().check(z.int(), z.nonnegative()),
});
export type ImportResult = z.infer<typeof importResultSchema>;
/** A backup file's text, as the page read it. */
const backupTextSchema = z
  .string()
  .check(z.maxLength(50 * 1024 * 1024, 'A backup is at most 50 MB.'));

const inviteSchema = z
  .string()
  .check(z.regex(/^p1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{40}$/, 'Not an invite.'));
const deviceIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{8,64}$/, 'Not a device.'));
/** What a pairing link is made of: the link, its invite, and when it stops working. */
const pairingSchema = z.strictObject({
  /** Opens this space on another device: `${origin}/#pair=<invite>`. */
  pairingLink: z.string(),
  invite: inviteSchema,
  /** Milliseconds since the epoch. */
  expiresAt: z.number().check(z.int(), z.positive()),
});

/**
 * Every request–answer method: its arguments and its answer. Subscriptions are not here: their
 * callback is a live proxy (Comlink) or a channel of updates (the leader fallback).
 */
export const engineMethods = {
  info: { args: z.tuple([]), answer: engineInfoSchema },
  execute: { args: z.tuple([executeRequestSchema]), answer: executeResultSchema },
  /**
   * Many commands in one message, each checked and run as `execute` runs it alone (one that is
   * malformed or fails does not fail the others), answered together once all are: what a tab
   * sends when it issues several commands in one task (app/engine-client.ts), so a burst costs
   * one message each way instead of one per command.
   */
  executeMany: {
    args: z.tuple([z.array(z.unknown()).check(z.minLength(1), z.maxLength(maxCommandsPerCall))]),
    answer: z.array(executeOutcomeSchema),
  },
  /** Creates a space on the server at `origin`, joins it, starts syncing, makes an invite. */
  startSync: {
    args: z.tuple([syncOriginSchema]),
    answer: z.extend(pairingSchema, { space: z.string() }),
  },
  /** A fresh single-use invite to this device's space, as a pairing link. */
  pairDevice: { args: z.tuple([]), answer: pairingSchema },
  /** Withdraws an invite nobody has used yet. */
  cancelPairing: { args: z.tuple([inviteSchema]), answer: nothing },
  /** The space's devices, and which one this is. */
  devices: { args: z.tuple([]), answer: devicesResponseSchema },
  renameDevice: { args: z.tuple([deviceNameSchema]), answer: nothing },
  /** Removes another device from the space: its token is refused from then on. */
  removeDevice: { args: z.tuple([deviceIdSchema]), answer: nothing },
  /** Joins an existing space (a pairing link's invite); local counters go too. */
  joinSpace: { args: z.tuple([syncOriginSchema, pairingTokenSchema]), answer: nothing },
  /** Stops syncing and forgets the token; local data stays. */
  /** What came with leaving that the person should know (it left all the same). */
  leaveSpace: { args: z.tuple([]), answer: z.strictObject({ note: z.optional(z.string()) }) },
  dismissRejection: { args: z.tuple([commandIdSchema]), answer: nothing },
  /** A hint that the network came or went; the engine also notices failures on its own. */
  setOnline: { args: z.tuple([z.boolean()]), answer: nothing },
  /** "Retry now": sync tries the server again at once instead of waiting out its backoff. */
  retrySync: { args: z.tuple([]), answer: nothing },
  /**
   * Writes now what the engine otherwise writes after a moment of quiet — the records behind the
   * appends and the list's first screen — as a tab asks when it goes out of sight (a phone's app
   * switcher, a closed tab): the next start then shows the list at once, as it was left.
   * Resolves once both are stored.
   */
  keepForNextStart: { args: z.tuple([]), answer: nothing },
  /**
   * Deletes an archived counter forever: on the sync server for every device of the space
   * (when this device syncs), then here.
   */
  deleteForever: { args: z.tuple([streamIdSchema]), answer: nothing },
  /** Every event of this profile as a backup file's JSON text (README, "Backup"). */
  exportBackup: { args: z.tuple([]), answer: z.string() },
  /** The history of every counter as CSV, for spreadsheets. */
  exportHistory: { args: z.tuple([]), answer: z.string() },
  /** What importing this backup would add; refuses a damaged or foreign file, saying why. */
  previewImport: { args: z.tuple([backupTextSchema]), answer: importPreviewSchema },
  /** Imports a backup: its events, validated, become this profile's (pending for sync). */
  importBackup: { args: z.tuple([backupTextSchema]), answer: importResultSchema },
} as const satisfies Record<Method, { args: z.ZodMiniTuple; answer: z.ZodMiniType }>;

type Table = typeof engineMethods;

/** The request–answer methods as functions, typed from the table. */
export type EngineMethods = {
  readonly [M in Method]: (
    ...args: z.input<Table[M]['args']>
  ) => Promise<z.output<Table[M]['answer']>>;
};

/** Where a subscription's updates go (`EngineApi.subscribe`). */
export type UpdateDelivery = ((update: EngineUpdate) => void) | MessagePort;

export interface EngineApi extends EngineMethods {
  /**
   * Answers a subscription id. The updates go to `delivery`: a port the engine posts each one on
   * (the SharedWorker's tabs: one message per update, nothing answered) and closes when the
   * subscription ends, or a callback (a Comlink proxy the engine releases then, or a function).
   */
  subscribe(request: SubscribeRequest, delivery: UpdateDelivery): Promise<number>;
  unsubscribe(id: number): Promise<void>;
}

const sentence = (error: z.core.$ZodError) => error.issues.map((issue) => issue.message).join('; ');

/** The engine's side of every transport: arguments are checked before the method runs. */
export function checkedMethods(implementation: EngineMethods): EngineMethods {
  const entries = methodNames.map((method) => [
    method,
    (...args: unknown[]) => {
      const parsed = engineMethods[method].args.safeParse(args);
      if (!parsed.success)
        return Promise.reject(
          // The reason alone, in words a person can act on: the page says what it was doing.
          new TallyError('invalid', sentence(parsed.error)),
        );
      const run = implementation[method] as (...a: readonly unknown[]) => Promise<unknown>;
      return run(...parsed.data);
    },
  ]);
  return Object.fromEntries(entries) as EngineMethods;
}

/** A tab's side: every method as a call through `send`, however it travels. */
export function methodsOver(
  send: (method: Method, args: readonly unknown[]) => Promise<unknown>,
): EngineMethods {
  return Object.fromEntries(
    methodNames.map((method) => [method, (...args: unknown[]) => send(method, args)]),
  ) as EngineMethods;
}

/** An answer that came from another tab, checked against the method's answer schema. */
export function checkAnswer(method: Method, value: unknown): unknown {
  const parsed = engineMethods[method].answer.safeParse(value);
  if (!parsed.success)
    throw new TallyError('invalid', `The leader tab sent a malformed answer to ${method}.`);
  return parsed.data;
}
