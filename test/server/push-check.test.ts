import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limits, pushRequestSchema } from '../../core/protocol.ts';
import { checkPushRequest } from '../../server/push-validation.ts';

/** A value that is sometimes right for its field and sometimes wrong in one of many ways. */
const either = <T>(right: fc.Arbitrary<T>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ weight: 4, arbitrary: right as fc.Arbitrary<unknown> }, ...wrong);

const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.string({ maxLength: 3 }),
  fc.constant([]),
  fc.constant({}),
);
const id = either(
  fc.stringMatching(/^[A-Za-z0-9_-]{8,12}$/),
  fc.constantFrom('short', 'has space in it', 'ünïcödé-ids', 'x'.repeat(65), ''),
  junk,
);
const streamId = either(
  fc.constantFrom('counter-a1', 'counter-b2', 'board-main'),
  fc.constantFrom('Counter-a1', 'counter', '-a1', `counter-${'x'.repeat(65)}`, 'counter-a1\n'),
  junk,
);
const integer = (min: number) =>
  either(
    fc.integer({ min, max: 5 }),
    fc.constantFrom(-1, 0.5, 2 ** 53, Number.MAX_VALUE, -0, '1'),
    junk,
  );
const meta = either(
  fc.record(
    {
      time: either(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.constantFrom(-1, 8_640_000_000_000_001, 1.5),
      ),
      device: id,
      command: id,
      schema: integer(1),
      extra: fc.constant(1),
    },
    { requiredKeys: ['time', 'device', 'command', 'schema'] },
  ),
  junk,
);
const event = either(
  fc.record(
    {
      id,
      stream: streamId,
      version: integer(1),
      type: either(
        fc.constantFrom('Created', 'Incremented', 'X'),
        fc.constantFrom('created', '', `A${'b'.repeat(64)}`),
      ),
      data: either(
        fc.dictionary(fc.string({ maxLength: 4 }), junk, { maxKeys: 2 }),
        fc.constant([1]),
        fc.constant(null),
      ),
      meta,
      extra: fc.constant('x'),
    },
    { requiredKeys: ['id', 'stream', 'version', 'type', 'data', 'meta'] },
  ),
  junk,
);
const pushStream = either(
  fc.record(
    {
      stream: streamId,
      expectedVersion: integer(0),
      expectedId: id,
      events: either(fc.array(event, { maxLength: 3 }), junk),
      extra: fc.constant(0),
    },
    { requiredKeys: ['stream', 'expectedVersion', 'events'] },
  ),
  junk,
);
const body = either(
  fc.record(
    { streams: either(fc.array(pushStream, { maxLength: 3 }), junk), extra: fc.constant(1) },
    { requiredKeys: ['streams'] },
  ),
  junk,
);

/** A push that is right in every field, each stream's events following its head. */
const validBody = fc
  .array(
    fc.record({
      stream: fc.constantFrom('counter-a1', 'counter-b2', 'board-main'),
      expectedVersion: fc.integer({ min: 0, max: 9 }),
      count: fc.integer({ min: 1, max: 3 }),
      ids: fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{8,12}$/), { minLength: 3, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((streams) => ({
    streams: streams.map(({ stream, expectedVersion, count, ids }) => ({
      stream,
      expectedVersion,
      events: ids.slice(0, count).map((eventId, i) => ({
        id: eventId,
        stream,
        version: expectedVersion + i + 1,
        type: 'Incremented',
        data: {},
        meta: { time: 1, device: 'device-test-1', command: 'command-1', schema: 1 },
      })),
    })),
  }));

const accepts = (value: unknown) => {
  try {
    checkPushRequest(value);
    return true;
  } catch {
    return false;
  }
};

describe('the server’s fast check of a push (checkPushRequest)', () => {
  it('accepts exactly what the protocol’s schema accepts, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(body, validBody), (value) => {
        expect(accepts(value)).toBe(pushRequestSchema.safeParse(value).success);
      }),
      { numRuns: 3_000 },
    );
  });

  it('accepts a valid push as it is, and refuses a broken one in the schema’s words', () => {
    fc.assert(
      fc.property(validBody, (value) => {
        expect(checkPushRequest(value)).toBe(value);
        // Versions that skip one, or an event of another stream: the rules JSON Schema cannot say.
        const [first] = value.streams;
        const skipped = structuredClone(value);
        skipped.streams[0]!.events[0]!.version += 1;
        expect(() => checkPushRequest(skipped)).toThrow(/follow expectedVersion/);
        const foreign = structuredClone(value);
        (foreign.streams[0]!.events[0] as { stream: string }).stream = `${first!.stream}z`;
        expect(() => checkPushRequest(foreign)).toThrow(/another stream/);
      }),
      { numRuns: 300 },
    );
    expect(() => checkPushRequest({ streams: [] })).toThrow(/malformed/);
    const tooMany = {
      streams: Array.from({ length: limits.maxStreamsPerPush + 1 }, () => ({})),
    };
    expect(() => checkPushRequest(tooMany)).toThrow(/malformed/);
  });
});
