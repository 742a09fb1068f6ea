import { envelopeSchema } from '../core/envelope.ts';
import type { FeedEntry } from '../core/protocol.ts';
import { TallyError } from '../core/errors.ts';
import type { z } from 'zod';

export type Envelope = z.infer<typeof envelopeSchema>;

/**
 * The one JSON form of an event in Redis. `id` comes first and the key order is fixed, so the
 * same event is always stored as the same bytes, whichever key order the device sent.
 */
export function serializeEvent(event: Envelope): string {
  const { id, stream, version, type, data, meta } = event;
  const { time, device, command, schema } = meta;
  return JSON.stringify({
    id,
    stream,
    version,
    type,
    data,
    meta: { time, device, command, schema },
  });
}

/** Stored data is validated when read back: a corrupt record fails loudly, never silently. */
export function parseStoredEvent(json: unknown): Envelope {
  if (typeof json === 'string') {
    try {
      const parsed = envelopeSchema.safeParse(JSON.parse(json));
      if (parsed.success) return parsed.data;
    } catch {
      // Falls through to the error below: the record is not JSON.
    }
  }
  throw new TallyError('unavailable', 'The sync server holds a malformed event.');
}

/** An entry of a space feed as XRANGE/XREAD return it: `[id, ['e', json]]`. */
export function parseFeedEntry(raw: unknown): FeedEntry {
  if (Array.isArray(raw) && typeof raw[0] === 'string' && Array.isArray(raw[1])) {
    const fields: unknown[] = raw[1];
    const at = fields.indexOf('e');
    if (at >= 0 && at % 2 === 0) return { cursor: raw[0], event: parseStoredEvent(fields[at + 1]) };
  }
  throw new TallyError('unavailable', 'The sync server holds a malformed feed entry.');
}
