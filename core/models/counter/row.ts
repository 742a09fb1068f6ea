import { legacyName } from './name.ts';
import type { CounterRow } from './projections.ts';

/**
 * The fields of a counter's row (`counterRowSchema` in ./projections.ts, which the test of this
 * check holds to the same list). Kept apart from the schema, with no schema library: the page's
 * first script checks the rows of the first screen it reads itself (app/kept-screen.ts).
 */
export const counterRowFields: ReadonlySet<string> = new Set([
  'id',
  'name',
  'value',
  'step',
  'archived',
  'version',
  'createdAt',
  'updatedAt',
]);

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
  for (const field of Object.keys(row)) if (!counterRowFields.has(field)) return false;
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
