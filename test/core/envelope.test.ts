import { describe, expect, it } from 'vitest';
import { envelopeSchema } from '../../core/envelope.ts';

const event = (time: number) => ({
  id: 'evt-00000001',
  stream: 'counter-abc',
  version: 1,
  type: 'Created',
  data: { name: 'Water' },
  meta: { time, device: 'device-0001', command: 'command-0001', schema: 1 },
});

describe('an event’s time', () => {
  it('is a moment a calendar can show: the largest a Date holds passes, one more is refused', () => {
    expect(envelopeSchema.safeParse(event(8_640_000_000_000_000)).success).toBe(true);
    const far = envelopeSchema.safeParse(event(8_640_000_000_000_001));
    expect(far.success).toBe(false);
    expect(far.error?.issues[0]?.message).toBe('A time must be a date a calendar can show.');
    // What the history would have done with it: formatting a time past the range throws.
    expect(() => new Date(8_640_000_000_000_001).toISOString()).toThrow(RangeError);
    expect(() => new Date(8_640_000_000_000_000).toISOString()).not.toThrow();
  });
});
