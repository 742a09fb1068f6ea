import { z } from 'zod';
import { envelopeSchema, idSchema, streamIdSchema } from './envelope.ts';
import { errorCodes } from './errors.ts';

/**
 * The sync protocol between a device and the sync server (DESIGN.md §4). Every body that crosses
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
} as const;

/** A space is one person's data set, shared by their devices. */
export const spaceIdSchema = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'Not a valid space id.');

/** A position in a space's feed (a Redis Stream id, `ms-seq`), or `0` for the beginning. */
export const cursorSchema = z.string().regex(/^(0|\d{1,20}-\d{1,20})$/, 'Not a valid cursor.');

export const pushStreamSchema = z
  .strictObject({
    stream: streamIdSchema,
    /** The device's confirmed head: how many events of the stream it knows the server has. */
    expectedVersion: z.number().int().nonnegative(),
    /**
     * The id of the device's event at `expectedVersion`. When the server holds another event
     * there, the two histories have diverged (Redis lost events, then others wrote there): the
     * answer is `diverged`, and nothing is appended.
     */
    expectedId: idSchema.optional(),
    events: z.array(envelopeSchema).min(1),
  })
  .superRefine((push, ctx) => {
    push.events.forEach((event, index) => {
      if (event.stream !== push.stream)
        ctx.addIssue({
          code: 'custom',
          message: 'Event belongs to another stream.',
          path: ['events', index],
        });
      if (event.version !== push.expectedVersion + index + 1)
        ctx.addIssue({
          code: 'custom',
          message: 'Event versions must follow expectedVersion without gaps.',
          path: ['events', index, 'version'],
        });
    });
  });

export const pushRequestSchema = z.strictObject({
  streams: z.array(pushStreamSchema).min(1).max(limits.maxStreamsPerPush),
});
export type PushRequest = z.infer<typeof pushRequestSchema>;

export const pushResultSchema = z.discriminatedUnion('status', [
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('accepted'),
    /** The stream's version on the server after the push. */
    version: z.number().int().nonnegative(),
  }),
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('diverged'),
    /** The server's length of the stream. */
    version: z.number().int().nonnegative(),
  }),
  z.strictObject({
    stream: streamIdSchema,
    status: z.literal('conflict'),
    version: z.number().int().nonnegative(),
    /** The events after the push's `expectedVersion` that the device has not seen. */
    events: z.array(envelopeSchema),
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
});
export type PullResponse = z.infer<typeof pullResponseSchema>;

export const createSpaceResponseSchema = z.strictObject({
  space: spaceIdSchema,
  token: z.string().min(1),
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
export const liveMessageSchema = z.array(feedEntrySchema).min(1);
export type LiveMessage = z.infer<typeof liveMessageSchema>;

/** `POST /api/spaces/:space/devices`: a token of its own for a device joining the space. */
export const deviceTokenResponseSchema = z.strictObject({ token: z.string().min(1) });
export const inviteResponseSchema = z.strictObject({
  invite: z.string().regex(/^p1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{30}$/),
  /** Milliseconds since the epoch. */
  expiresAt: z.number().int().positive(),
});
export type InviteResponse = z.infer<typeof inviteResponseSchema>;
export type DeviceTokenResponse = z.infer<typeof deviceTokenResponseSchema>;
