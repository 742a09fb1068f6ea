import { z } from 'zod';
import type { Codec } from '../core/codec.ts';
import { counterCodec } from '../core/counter-codec.ts';
import { TallyError } from '../core/errors.ts';
import { limits, pushRequestSchema } from '../core/protocol.ts';
import type { StreamAppend } from './redis-store.ts';
import { serializeEvent } from './stored-event.ts';

/** Which codec knows a stream's events, by the model named in its id (`counter-…`). */
const codecs: Readonly<Record<string, Codec<{ type: string; data: unknown }>>> = {
  counter: counterCodec,
};

const maxMessage = 600;
const clip = (text: string) => (text.length > maxMessage ? `${text.slice(0, maxMessage)}…` : text);

/**
 * Everything a push must satisfy before it may reach Redis: the protocol's schema, the limits,
 * one entry per stream, and events the server's models can decode. Whatever fails, nothing of the
 * push is stored.
 */
export function validatePush(body: unknown): StreamAppend[] {
  const parsed = pushRequestSchema.safeParse(body);
  if (!parsed.success)
    throw new TallyError(
      'invalid',
      clip(`The push is malformed: ${z.prettifyError(parsed.error)}`),
    );
  const { streams } = parsed.data;

  const total = streams.reduce((sum, { events }) => sum + events.length, 0);
  if (total > limits.maxEventsPerPush)
    throw new TallyError(
      'invalid',
      `A push holds at most ${limits.maxEventsPerPush} events; this one holds ${total}.`,
    );

  const seen = new Set<string>();
  for (const { stream, events } of streams) {
    // The append script reads each stream's list once; two entries for one stream would race.
    if (seen.has(stream)) throw new TallyError('invalid', `Stream ${stream} appears twice.`);
    seen.add(stream);
    const model = stream.slice(0, stream.indexOf('-'));
    const codec = Object.hasOwn(codecs, model) ? codecs[model] : undefined;
    if (!codec) throw new TallyError('invalid', `Stream ${stream} is of an unknown kind.`);
    const ids = new Set<string>();
    for (const event of events) {
      if (ids.has(event.id))
        throw new TallyError('invalid', `Event ${event.id} appears twice in ${stream}.`);
      ids.add(event.id);
      const bytes = Buffer.byteLength(serializeEvent(event));
      if (bytes > limits.maxEventBytes)
        throw new TallyError(
          'invalid',
          `Event ${event.id} is ${bytes} bytes; an event is at most ${limits.maxEventBytes}.`,
        );
      // Decoding only validates (the envelope was by the schema above; here its type and data);
      // the event is stored exactly as the device decided it.
      codec.decodeEnvelope(event);
    }
  }
  return streams;
}
