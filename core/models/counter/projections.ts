import { z } from '../../zod.ts';
import type { Projection } from '../../projection.ts';
import { counter, legacyName, type CounterEvent } from './decider.ts';
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

const rowFields = new Set(Object.keys(counterRowSchema.shape));
const count = (value: unknown, least: number): boolean =>
  Number.isSafeInteger(value) && (value as number) >= least;

/**
 * `counterRowSchema` for a row it takes exactly as it is, without its machinery: the app's start
 * reads every counter's row, and parsing 1,000 of them cold cost 40–50 ms of the engine's start
 * (docs/architecture.md, "The first screen"). Anything else (a name an older build wrote, a field
 * present but undefined) goes to the schema. Checked against it in test/core/counter-row.test.ts.
 */
export function isCounterRow(value: unknown): value is CounterRow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const row = value as Record<string, unknown>;
  for (const field of Object.keys(row)) if (!rowFields.has(field)) return false;
  return (
    typeof row.id === 'string' &&
    typeof row.name === 'string' &&
    legacyName(row.name) === row.name &&
    count(row.value, 0) &&
    (!('step' in row) || count(row.step, 1)) &&
    (!('archived' in row) || row.archived === true) &&
    count(row.version, 1) &&
    Number.isFinite(row.createdAt) &&
    Number.isFinite(row.updatedAt)
  );
}

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
