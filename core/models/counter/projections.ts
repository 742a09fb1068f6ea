import { z } from '../../zod.ts';
import type { Projection } from '../../projection.ts';
import { counter, legacyName, type CounterEvent } from './decider.ts';
import { isCounterRow } from './row.ts';
import { counterViewName } from './view.ts';

export const counterRowSchema = z.strictObject({
  id: z.string(),
  /** Read in today's form: a row an older build wrote keeps the name its events now read as. */
  name: z.pipe(z.string(), z.transform(legacyName)),
  value: z.number().check(z.int(), z.nonnegative()),
  /** What the +N button adds; absent in rows written before steps existed (then 1). */
  step: z.optional(z.number().check(z.int(), z.positive())),
  /** Archived: shown under "Archived counters", not in the main list; absent when not. */
  archived: z.optional(z.literal(true)),
  version: z.number().check(z.int(), z.positive()),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type CounterRow = z.infer<typeof counterRowSchema>;

export { counterRowFields, isCounterRow } from './row.ts';

/**
 * The list of counters with their values: what the home screen shows. Name and value are the
 * model's own fold (`counter.evolve`), so a rule such as "never below zero" is written once.
 */
export const counterList: Projection<CounterRow, CounterEvent> = {
  view: counterViewName,
  schema: counterRowSchema,
  isRow: isCounterRow,
  key: (event) => event.stream,
  apply(row, event) {
    const before = row
      ? {
          exists: true as const,
          name: legacyName(row.name),
          value: row.value,
          ...(row.step === undefined ? {} : { step: row.step }),
          ...(row.archived ? { archived: true as const } : {}),
        }
      : undefined;
    if (!before && event.type !== 'Created') return row;
    const after = counter.evolve(before ?? counter.initialState(), event);
    if (!after.exists) return undefined;
    return {
      id: event.stream,
      name: after.name,
      value: after.value,
      ...(after.step === undefined ? {} : { step: after.step }),
      ...(after.archived ? { archived: true as const } : {}),
      createdAt: row?.createdAt ?? event.meta.time,
      version: event.version,
      updatedAt: event.meta.time,
    };
  },
};
