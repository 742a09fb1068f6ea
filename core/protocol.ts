import { z } from './zod.ts';
import { envelopeSchema, idSchema, streamIdSchema } from './envelope.ts';
import { errorCodes } from './errors.ts';
import { streamSnapshotSchema } from './stream-snapshot.ts';
import { deviceNameProblem, normalDeviceName } from './device-name.ts';

export { deviceNameProblem, normalDeviceName };

/**
 * The sync protocol between a device and the sync server (docs/architecture.md, "Sync rules"). Every body that crosses
 * the network is one of these schemas; both sides validate with them.
 */
export const limits = {
  /** Largest HTTP body the server reads. */
  maxBodyBytes: 1_048_576,
  /** Streams per push. */
  maxStreamsPerPush: 100,
  /** Events per push, across all its streams. */
  maxEventsPerPush: 1_000,
  /** Bytes of one event, JSON-encoded. */
  maxEventBytes: 4_096,
  /** Events per page of a pull. */
  maxPullLimit: 1_000,
  /** Events all conflict answers of one push carry together: a page, like a pull's. */
  maxConflictEvents: 1_000,
  /** Streams one page of a space's snapshots holds, at most. */
  maxSnapshotsPerPage: 500,
} as const;

/** A space is one person's data set, shared by their devices. */
export const spaceIdSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{16,64}$/, 'Not a valid space id.'));

/** A position in a space's feed (a Redis Stream id, `ms-seq`), or `0` for the beginning. */
export const cursorSchema = z
  .string()
  .check(z.regex(/^(0|\d{1,20}-\d{1,20})$/, 'Not a valid cursor.'));

export const pushStreamSchema = z
  .strictObject({
    stream: streamIdSchema,
    /** The device's confirmed head: how many events of the stream it knows the server has. */
    expectedVersion: z.number().check(z.int(), z.nonnegative()),
    /**
     * The id of the device's event at `expectedVersion`. When the server holds another event
     * there, the two histories have diverged (Redis lost events, then others wrote there): the
     * answer is `diverged`, and nothing is appended.
     */
    expectedId: z.optional(idSchema),
    events: z.array(envelopeSchema).check(z.minLength(1)),
  })
  .check(
    z.superRefine((push, ctx) => {
      for (const issue of pushStreamIssues(push)) ctx.addIssue({ code: 'custom', ...issue });
    }),
  );

/**
 * What a push stream of the right shape may still get wrong: events of another stream, or
 * versions that do not follow `expectedVersion` one by one (the schema's own rule, and the
 * server's fast check's: server/push-validation.ts).
 */
export function pushStreamIssues(push: {
  readonly stream: string;
  readonly expectedVersion: number;
  readonly events: readonly { readonly stream: string; readonly version: number }[];
}): { message: string; path: (string | number)[] }[] {
  const issues: { message: string; path: (string | number)[] }[] = [];
  push.events.forEach((event, index) => {
    if (event.stream !== push.stream)
      issues.push({ message: 'Event belongs to another stream.', path: ['events', index] });
    if (event.version !== push.expectedVersion + index + 1)
      issues.push({
        message: 'Event versions must follow expectedVersion without gaps.',
        path: ['events', index, 'version'],
      });
  });
  return issues;
}

export const pushRequestSchema = z.strictObject({
  streams: z.array(pushStreamSchema).check(z.minLength(1), z.maxLength(limits.maxStreamsPerPush)),
});
export type PushRequest = z.infer<typeof pushRequestSchema>;

export const pushResultSchema = z.discriminatedUnion('status', [
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('accepted'),
    /** The stream's version on the server after the push. */
    version: z.number().check(z.int(), z.nonnegative()),
  }),
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('diverged'),
    /** The server's length of the stream. */
    version: z.number().check(z.int(), z.nonnegative()),
  }),
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('conflict'),
    version: z.number().check(z.int(), z.nonnegative()),
    /**
     * The events after the push's `expectedVersion` that the device has not seen: at most a page
     * (`limits.maxConflictEvents` across the push), from `expectedVersion + 1` on.
     */
    events: z.array(envelopeSchema),
    /**
     * True when the stream holds more after this page: pushing again with `expectedVersion`
     * moved past these events answers the next page. Absent when the page reaches the end.
     */
    more: z.optional(z.literal(true)),
  }),
]);
export type PushResult = z.infer<typeof pushResultSchema>;

export const pushResponseSchema = z.strictObject({ results: z.array(pushResultSchema) });
export type PushResponse = z.infer<typeof pushResponseSchema>;

export const feedEntrySchema = z.strictObject({ cursor: cursorSchema, event: envelopeSchema });
export type FeedEntry = z.infer<typeof feedEntrySchema>;

export const pullResponseSchema = z.strictObject({
  entries: z.array(feedEntrySchema),
  /** The cursor to ask from next; equal to the request's when nothing new. */
  cursor: cursorSchema,
  /** True when more entries wait after this page. */
  more: z.boolean(),
  /**
   * The feed no longer holds the entry the request's `after` named (Redis lost it in a failover,
   * or it was swept out with a stream deleted forever): `entries` is empty and `cursor` is the
   * newest entry it holds before it (`0` for none). The device gives back every event it saw
   * after `cursor` that the server may have lost, and reads on from there (docs/architecture.md,
   * "Failover"). Absent otherwise.
   */
  wentBack: z.optional(z.literal(true)),
});
export type PullResponse = z.infer<typeof pullResponseSchema>;

/** A page of the snapshot route: HSCAN's cursor (`0` first), a u64 written plainly. */
export const snapshotPagePattern = /^(0|[1-9]\d{0,19})$/;

/**
 * `GET /api/spaces/:space/snapshots?page=<page>`: a page of the space's streams, each folded up
 * to at least where the feed was at `cursor` (docs/architecture.md, "Joining a space"). A device
 * joining takes every page, then follows the feed from `cursor` (the first page's): what the feed
 * holds after it may repeat what a snapshot already counts, never miss anything.
 */
export const snapshotPageSchema = z.strictObject({
  cursor: cursorSchema,
  streams: z.array(streamSnapshotSchema).check(z.maxLength(limits.maxSnapshotsPerPage)),
  /**
   * Streams of this page the server does not fold (their model's state grows with the space, as
   * the board's order does, or a snapshot would be too large): read from their events with
   * `GET /api/spaces/:space/streams/:stream/events`, up to at least `version`.
   */
  histories: z
    .array(
      z.strictObject({
        stream: streamIdSchema,
        version: z.number().check(z.int(), z.positive()),
      }),
    )
    .check(z.maxLength(limits.maxSnapshotsPerPage)),
  /**
   * The page to ask for next, absent after the last one. It may be the page just read: a stream
   * of it was not folded to its end within one request's work, and the fold goes on.
   */
  next: z.optional(z.string().check(z.regex(snapshotPagePattern))),
});
export type SnapshotPage = z.infer<typeof snapshotPageSchema>;

/**
 * `GET /api/spaces/:space/streams/:stream/events?after=<version>&limit=<n>`: one stream's events
 * after a version, a page at a time: the history a device that joined by snapshots does not hold
 * (docs/architecture.md, "Joining a space").
 */
export const streamEventsResponseSchema = z.strictObject({
  events: z.array(envelopeSchema).check(z.maxLength(limits.maxPullLimit)),
  /** The stream's version on the server. */
  version: z.number().check(z.int(), z.nonnegative()),
  more: z.boolean(),
});
export type StreamEventsResponse = z.infer<typeof streamEventsResponseSchema>;

export const createSpaceResponseSchema = z.strictObject({
  space: spaceIdSchema,
  token: z.string().check(z.minLength(1)),
});
export type CreateSpaceResponse = z.infer<typeof createSpaceResponseSchema>;

export const errorBodySchema = z.strictObject({
  error: z.strictObject({ code: z.enum(errorCodes), message: z.string() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * The data of one message of the live feed (server-sent events): a batch of entries in feed
 * order. The message's SSE `id` is the cursor of its last entry, so a reconnect resumes after it.
 */
export const liveMessageSchema = z.array(feedEntrySchema).check(z.minLength(1));
export type LiveMessage = z.infer<typeof liveMessageSchema>;

/** `POST /api/spaces/:space/devices`: a token of its own for a device joining the space. */
export const deviceTokenResponseSchema = z.strictObject({
  token: z.string().check(z.minLength(1)),
});
export const inviteResponseSchema = z.strictObject({
  invite: z.string().check(z.regex(/^p1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{40}$/)),
  /** Milliseconds since the epoch. */
  expiresAt: z.number().check(z.int(), z.positive()),
});
export type InviteResponse = z.infer<typeof inviteResponseSchema>;
export type DeviceTokenResponse = z.infer<typeof deviceTokenResponseSchema>;

/** What a person calls a device: "Chrome on Android" by default, theirs to change. */
export const deviceNameSchema = z.pipe(
  z.string().check(
    z.maxLength(10_000, 'A device name is at most 60 characters.'),
    z.superRefine((typed: string, ctx) => {
      const problem = deviceNameProblem(typed);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
  z.transform(normalDeviceName),
);

/** `GET /api/spaces/:space/devices`: the space's devices, and which one is asking. */
export const deviceSchema = z.strictObject({
  id: z.string().check(z.regex(/^[A-Za-z0-9_-]{8,64}$/)),
  name: z.string().check(z.maxLength(60)),
  /** Milliseconds since the epoch. */
  joinedAt: z.number().check(z.int(), z.nonnegative()),
  lastSeenAt: z.number().check(z.int(), z.nonnegative()),
});
export type DeviceInfo = z.infer<typeof deviceSchema>;
export const devicesResponseSchema = z.strictObject({
  devices: z.array(deviceSchema).check(z.maxLength(1_000)),
  self: z.string(),
});
export type DevicesResponse = z.infer<typeof devicesResponseSchema>;
