import { describe, expect, it } from 'vitest';
import { z } from '../../core/zod.ts';
import { createCodec } from '../../core/codec.ts';
import { counterCodec } from '../../core/models/counter/codec.ts';
import { TallyError } from '../../core/errors.ts';

const envelope = (overrides: Record<string, unknown> = {}) => ({
  id: 'evt-00000001',
  stream: 'counter-abc12345',
  version: 1,
  type: 'Created',
  data: { name: 'Coffee' },
  meta: { time: 1, device: 'device-000001', command: 'cmd-00000001', schema: 1 },
  ...overrides,
});

const invalid = (fn: () => unknown, message: RegExp) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TallyError);
    expect((error as TallyError).code).toBe('invalid');
    expect((error as TallyError).message).toMatch(message);
    return;
  }
  throw new Error('expected an invalid error');
};

describe('event codec', () => {
  it('decodes a valid envelope', () => {
    expect(counterCodec.decode(envelope())).toEqual(envelope());
  });

  it('names an unknown event type and where it was', () =>
    invalid(
      () => counterCodec.decode(envelope({ type: 'Exploded' })),
      /Unknown event type “Exploded” \(stream counter-abc12345, version 1\)/,
    ));

  it('refuses a malformed record', () => {
    invalid(() => counterCodec.decode(envelope({ version: 0 })), /malformed/);
    invalid(() => counterCodec.decode(envelope({ stream: '../../etc' })), /malformed/);
    invalid(() => counterCodec.decode(null), /malformed/);
    invalid(() => counterCodec.decode(envelope({ extra: 1 })), /malformed/);
  });

  it('refuses data that fails the event’s schema', () =>
    invalid(() => counterCodec.decode(envelope({ data: { name: 42 } })), /bad data/));

  it('refuses an event from a newer schema than it knows', () =>
    invalid(
      () => counterCodec.decode(envelope({ meta: { ...envelope().meta, schema: 2 } })),
      /newer version/,
    ));

  it('upcasts old versions step by step', () => {
    const codec = createCodec<{ type: 'Created'; data: { name: string; color: string } }>({
      Created: {
        schema: 3,
        data: z.strictObject({ name: z.string(), color: z.string() }),
        upcast: {
          1: (data) => ({ name: data.title }),
          2: (data) => ({ ...data, color: 'blue' }),
        },
      },
    });
    const decoded = codec.decode(envelope({ data: { title: 'Old' } }));
    expect(decoded.data).toEqual({ name: 'Old', color: 'blue' });
    expect(decoded.meta.schema).toBe(3);
  });
});
