import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counterList,
  counterRowFields,
  counterRowSchema,
  isCounterRow,
  type CounterRow,
} from '../../core/models/counter/projections.ts';
import { readRow } from '../../core/projection.ts';
import { isRejection } from '../../core/decider.ts';
import {
  counter,
  counterCommandSchema,
  noCounterContext,
} from '../../core/models/counter/decider.ts';

// Each field as a row could hold it, and as a damaged or older record could: wrong types,
// numbers at and past every bound, names an older build wrote (odd Unicode, too long).
const field = {
  id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  name: fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'Z', '9', '~', ' '), maxLength: 70 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.constantFrom('Water', ' Water', 'Water ', 'a  b', 'e\u0301', '\u200B', '', 'x'.repeat(61)),
    fc.integer(),
  ),
  count: fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -0, 1, -1, 0.5, Number.MAX_SAFE_INTEGER, 2 ** 53, NaN, Infinity, -Infinity),
    fc.double(),
    fc.string(),
    fc.constant(undefined),
  ),
  time: fc.oneof(
    fc.double(),
    fc.constantFrom(NaN, Infinity, -Infinity, 0),
    fc.string(),
    fc.constant(undefined),
  ),
  archived: fc.oneof(fc.constantFrom(true, false, 1, 'true', undefined, null)),
};
const fields = ['id', 'name', 'value', 'step', 'archived', 'version', 'createdAt', 'updatedAt'];
const anyField = fc.oneof(
  field.id,
  field.name,
  field.count,
  field.time,
  field.archived,
  fc.anything(),
);
// A sound row, then one field changed to anything a record could hold, or taken away, or one
// added: each rule of the schema is met by every field but one.
const soundRow = fc.record(
  {
    id: fc.string(),
    name: fc.string({ unit: fc.constantFrom('a', 'Z', '9', '~', ' ', 'é'), maxLength: 62 }),
    value: fc.nat(),
    step: fc.integer({ min: 1 }),
    archived: fc.constant(true),
    version: fc.integer({ min: 1 }),
    createdAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
    updatedAt: fc.double({ noNaN: true, noDefaultInfinity: true }),
  },
  { requiredKeys: ['id', 'name', 'value', 'version', 'createdAt', 'updatedAt'] },
);
const rowLike = fc
  .tuple(soundRow, fc.constantFrom(...fields, 'extra'), anyField, fc.boolean())
  .map(([row, key, value, remove]) => {
    const changed: Record<string, unknown> = { ...row };
    if (remove) delete changed[key];
    else changed[key] = value;
    return changed;
  });

describe('the counter row’s fast check (what the app’s start reads rows with)', () => {
  it('knows the schema’s fields, no more and no fewer (it is kept apart from the schema)', () => {
    expect([...counterRowFields].sort()).toEqual(Object.keys(counterRowSchema.shape).sort());
  });

  it('vouches only for what the schema takes exactly as it is', () => {
    let vouched = 0;
    fc.assert(
      fc.property(fc.oneof(rowLike, soundRow, fc.anything()), (value) => {
        if (!isCounterRow(value)) return;
        vouched++;
        const parsed = counterRowSchema.safeParse(value);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toStrictEqual(value);
      }),
      { numRuns: 5_000 },
    );
    // Most sound rows are vouched for (a name of more than 60 characters or spaces at an end is
    // not sound): the property is not met by vouching for nothing.
    expect(vouched).toBeGreaterThan(500);
  });

  it('vouches for every row the projection writes, so the start takes the fast way', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'Z', '9', '~', ' ', 'é'), maxLength: 60 });
    const command = fc.oneof(
      name.map((n) => ({ type: 'create' as const, name: n })),
      fc.record({
        type: fc.constant('increment' as const),
        amount: fc.integer({ min: 1, max: 1e6 }),
      }),
      fc.constant({ type: 'decrement' as const }),
      name.map((n) => ({ type: 'rename' as const, name: n })),
      fc.constant({ type: 'reset' as const }),
      fc.record({ type: fc.constant('set' as const), value: fc.integer({ min: 0, max: 1e9 }) }),
      fc.record({ type: fc.constant('setStep' as const), step: fc.integer({ min: 1, max: 1e6 }) }),
      fc.constant({ type: 'archive' as const }),
      fc.constant({ type: 'restore' as const }),
    );
    let written = 0;
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let state = counter.initialState();
        let row: CounterRow | undefined;
        let version = 0;
        for (const c of commands) {
          // As the engine takes a command: through its schema, which makes names normal.
          const parsed = counterCommandSchema.safeParse(c);
          if (!parsed.success) continue;
          const decision = counter.decide(state, parsed.data, noCounterContext);
          if (isRejection(decision)) continue;
          for (const event of decision) {
            version++;
            state = counter.evolve(state, event);
            const stored = {
              id: `e${version}`,
              stream: 'counter-abc',
              version,
              ...event,
              meta: { time: 1_700_000_000_000 + version, device: 'd', command: 'c' },
              position: version,
            };
            row = counterList.apply(row, stored as never);
            if (row === undefined) continue;
            written++;
            expect(isCounterRow(row)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
    expect(written).toBeGreaterThan(100);
  });

  it('leaves a damaged or older row to the schema, which says what is wrong or reads it in today’s form', () => {
    const row = {
      id: 'counter-abc',
      name: 'Water',
      value: 3,
      version: 4,
      createdAt: 1,
      updatedAt: 2,
    };
    expect(readRow(counterList, row)).toEqual({ success: true, data: row });
    const damaged = readRow(counterList, { ...row, value: -1 });
    expect(damaged.success).toBe(false);
    expect(damaged.error?.issues[0]?.path).toEqual(['value']);
    // A name an older build stored with two spaces is read as today's build writes it.
    expect(readRow(counterList, { ...row, name: 'Tap  water' })).toEqual({
      success: true,
      data: { ...row, name: 'Tap water' },
    });
  });
});
