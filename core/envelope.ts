import { z } from './zod.ts';

/**
 * A stream is one aggregate's events: `<model>-<id>`, e.g. `counter-3f2a…`. The format is strict
 * because stream ids become IndexedDB keys and Redis keys.
 */
export const streamIdPattern = /^[a-z][a-z0-9]{0,23}-[A-Za-z0-9_-]{1,64}$/;
export const streamIdSchema = z.string().check(z.regex(streamIdPattern, 'Not a valid stream id.'));
export type StreamId = string;

export const idSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{8,64}$/, 'Not a valid id.'));

export const metadataSchema = z.strictObject({
  /** Wall-clock milliseconds when the command was decided; for people, never for ordering. */
  time: z.number().check(
    z.int(),
    z.nonnegative(),
    // The last moment a JavaScript date can show: past it, formatting a time throws.
    z.lte(8_640_000_000_000_000, 'A time must be a date a calendar can show.'),
  ),
  /** The device (browser profile) whose engine decided the event. */
  device: idSchema,
  /** The command that produced the event: a retried command is recognised by it. */
  command: idSchema,
  /** The version of the event's data schema, so old events can be upcast when read back. */
  schema: z.number().check(z.int(), z.positive()),
});
export type EventMetadata = z.infer<typeof metadataSchema>;

export const envelopeSchema = z.strictObject({
  id: idSchema,
  stream: streamIdSchema,
  /** 1, 2, 3 … per stream, no gaps, no duplicates. */
  version: z.number().check(z.int(), z.positive()),
  type: z.string().check(z.regex(/^[A-Z][A-Za-z0-9]{0,63}$/, 'Not a valid event type.')),
  data: z.record(z.string(), z.unknown()),
  meta: metadataSchema,
});

/** An event as it is stored and sent. `E` is the model's event union (`{ type, data }`). */
export type EventEnvelope<
  E extends { type: string; data: unknown } = { type: string; data: unknown },
> = E & {
  readonly id: string;
  readonly stream: StreamId;
  readonly version: number;
  readonly meta: EventMetadata;
};

/** Named sentinels for an append's expected version, as in emmett. */
export const NO_STREAM = 0;
