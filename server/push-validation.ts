import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { toJSONSchema } from 'zod/v4/core';
import { TallyError } from '../core/errors.ts';
import { models as allModels, type ModelSet } from '../core/model-list.ts';
import { limits, pushRequestSchema, pushStreamIssues, type PushRequest } from '../core/protocol.ts';
import type { StreamAppend } from './redis-store.ts';
import { serializeEvent } from './stored-event.ts';

const maxMessage = 600;
const clip = (text: string) => (text.length > maxMessage ? `${text.slice(0, maxMessage)}…` : text);

/**
 * Everything a push must satisfy before it may reach Redis: the protocol's schema, the limits,
 * one entry per stream, and events the models can decode. Whatever fails, nothing of the
 * push is stored.
 */
export function validatePush(body: unknown, models: ModelSet = allModels): StreamAppend[] {
  const { streams } = checkPushRequest(body);

  const total = streams.reduce((sum, { events }) => sum + events.length, 0);
  if (total > limits.maxEventsPerPush)
    throw new TallyError(
      'invalid',
      `A push holds at most ${limits.maxEventsPerPush} events; this one holds ${total}.`,
    );

  const seen = new Set<string>();
  const appends: StreamAppend[] = [];
  for (const { stream, expectedVersion, expectedId, events } of streams) {
    // The append script reads each stream's list once; two entries for one stream would race.
    if (seen.has(stream)) throw new TallyError('invalid', `Stream ${stream} appears twice.`);
    seen.add(stream);
    // The same model list as the devices': a stream of no known model is refused.
    const { codec, checkSequence } = models.modelOf(stream);
    // Only possible histories: the model's rules for sequences (a counter is created once).
    const broken = checkSequence?.(expectedVersion, events);
    if (broken)
      throw new TallyError('invalid', `Stream ${stream} cannot take these events: ${broken}`);
    const ids = new Set<string>();
    const decoded: StreamAppend['events'][number][] = [];
    const serialized: string[] = [];
    for (const event of events) {
      if (ids.has(event.id))
        throw new TallyError('invalid', `Event ${event.id} appears twice in ${stream}.`);
      ids.add(event.id);
      // Stored in today's shape (an older device's event upcast): every copy of an event, on
      // any device or server, then holds the same bytes, so a retry is recognised by them.
      const stored = codec.decodeEnvelope(event) as StreamAppend['events'][number];
      // Its stored form, measured here and written as it is (made once per event).
      const json = serializeEvent(stored);
      const bytes = Buffer.byteLength(json);
      if (bytes > limits.maxEventBytes)
        throw new TallyError(
          'invalid',
          `Event ${event.id} is ${bytes} bytes; an event is at most ${limits.maxEventBytes}.`,
        );
      decoded.push(stored);
      serialized.push(json);
    }
    appends.push({
      stream,
      expectedVersion,
      ...(expectedId ? { expectedId } : {}),
      events: decoded,
      serialized,
    });
  }
  return appends;
}

/**
 * `pushRequestSchema` as a compiled JSON Schema validator (ajv), made from the zod schema itself
 * (`toJSONSchema`), so the rules have one source. It checks a push ten times faster than zod's
 * parse and copies nothing (measured: 0.4 ms against 4 ms for 1,000 events), on the server's
 * busiest path. The schema's one rule JSON Schema cannot say (`pushStreamIssues`) is checked
 * beside it. A test holds the two to the same verdict on generated pushes, valid and not.
 */
const fastPushCheck = new Ajv2020({ strict: false }).compile(
  toJSONSchema(pushRequestSchema, { io: 'input', unrepresentable: 'any' }) as object,
);

/**
 * The body as a push request, or `invalid` in zod's words. What the fast check passes is used
 * as it is (zod's parse would answer a copy equal to it); anything else is zod's to judge.
 */
export function checkPushRequest(body: unknown): PushRequest {
  if (fastPushCheck(body)) {
    const push = body as PushRequest;
    if (push.streams.every((stream) => pushStreamIssues(stream).length === 0)) return push;
  }
  const parsed = pushRequestSchema.safeParse(body);
  if (!parsed.success)
    throw new TallyError(
      'invalid',
      clip(`The push is malformed: ${z.prettifyError(parsed.error)}`),
    );
  return parsed.data;
}
