import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstScreenSchema } from '../../core/first-screen-schema.ts';
import { firstScreenFields, firstScreenRows, isFirstScreenOf } from '../../core/first-screen.ts';
import { isCounterRow } from '../../core/models/counter/row.ts';

/**
 * The page's first script checks the kept first screen without a schema library
 * (app/kept-screen.ts): its check must never take a record the engine's schema refuses.
 */
const row = fc.record({
  id: fc.string({ maxLength: 8 }),
  name: fc.constantFrom('Water', 'Push-ups', 'a b'),
  value: fc.nat(),
  version: fc.integer({ min: 1, max: 100 }),
  createdAt: fc.nat(),
  updatedAt: fc.nat(),
});
// As the engine keeps one: the list's first rows all there, the list within the view.
const sound = fc
  .record({
    position: fc.nat(),
    // Spread: fast-check makes some records without a prototype, which the row check refuses.
    rows: fc.array(
      row.map((value) => ({ key: value.id, value: { ...value } })),
      { maxLength: 5 },
    ),
    archived: fc.nat({ max: 10 }),
  })
  .map(({ position, rows, archived }) => ({
    key: 'firstScreen',
    view: 'counters',
    position,
    counted: rows.length + archived,
    listed: rows.length,
    rows,
  }));
const fields = [...firstScreenFields, 'extra'];
// A sound record with one field changed to anything, taken away, or added; or one of its rows so.
const changed = fc
  .tuple(sound, fc.constantFrom(...fields), fc.anything(), fc.boolean(), fc.nat())
  .map(([record, field, value, remove, at]) => {
    const copy: Record<string, unknown> = { ...record, rows: [...record.rows] };
    if (at % 3 === 0 && record.rows.length > 0) {
      const i = at % record.rows.length;
      const inner: Record<string, unknown> = { ...record.rows[i]! };
      if (remove) delete inner[at % 2 === 0 ? 'key' : 'value'];
      else inner[at % 2 === 0 ? 'key' : 'value'] = value;
      (copy.rows as unknown[])[i] = inner;
    } else if (remove) delete copy[field];
    else copy[field] = value;
    return copy;
  });

describe('the kept first screen’s check without a schema (the page’s own read)', () => {
  it('knows the schema’s fields, no more and no fewer', () => {
    expect([...firstScreenFields].sort()).toEqual(Object.keys(firstScreenSchema.shape).sort());
  });

  it('takes only records the schema takes, and most sound ones', () => {
    let taken = 0;
    fc.assert(
      fc.property(fc.oneof(sound, changed, fc.anything()), (record) => {
        if (!isFirstScreenOf(record, 'counters', isCounterRow)) return;
        taken++;
        expect(firstScreenSchema.safeParse(record).success).toBe(true);
      }),
      { numRuns: 5_000 },
    );
    // The property is not met by taking nothing.
    expect(taken).toBeGreaterThan(1_000);
  });

  it('refuses another view, a row its check does not vouch for, and more rows than are kept', () => {
    const record = {
      key: 'firstScreen',
      view: 'counters',
      position: 3,
      counted: 1,
      listed: 1,
      rows: [
        {
          key: 'counter-1',
          value: {
            id: 'counter-1',
            name: 'Water',
            value: 2,
            version: 3,
            createdAt: 1,
            updatedAt: 2,
          },
        },
      ],
    };
    expect(isFirstScreenOf(record, 'counters', isCounterRow)).toBe(true);
    expect(isFirstScreenOf(record, 'board', isCounterRow)).toBe(false);
    expect(isFirstScreenOf(record, 'counters', () => false)).toBe(false);
    const many = {
      ...record,
      rows: Array.from({ length: firstScreenRows + 1 }, () => record.rows[0]),
    };
    expect(isFirstScreenOf(many, 'counters', isCounterRow)).toBe(false);
    // A record that does not agree with itself: its list longer than its view, or than its rows.
    expect(isFirstScreenOf({ ...record, listed: 0 }, 'counters', isCounterRow)).toBe(false);
    expect(isFirstScreenOf({ ...record, listed: 1e12 }, 'counters', isCounterRow)).toBe(false);
    expect(isFirstScreenOf({ ...record, counted: 0 }, 'counters', isCounterRow)).toBe(false);
    // A damaged row: the whole record is a cache not shown.
    const damaged = {
      ...record,
      rows: [{ key: 'counter-1', value: { id: 'counter-1', value: 'lots' } }],
    };
    expect(isFirstScreenOf(damaged, 'counters', isCounterRow)).toBe(false);
  });
});
