import type { FirstScreenRecord } from './first-screen-schema.ts';

export type { FirstScreenRecord };

/**
 * The first screen (docs/architecture.md, "The first screen"): the first rows of a model's list,
 * in its order, kept beside the views (`meta` record `firstScreen`) so the next start shows them
 * before the whole view is read: with 100,000 counters, reading every row takes seconds.
 */

/** Rows kept: a long list's first window and more. */
export const firstScreenRows = 300;
/**
 * Kept for every list with a row: the page reads it itself as the app starts (app/kept-screen.ts),
 * while the engine's worker loads its script and opens the database, so a list of any length
 * shows before the engine runs. (Until the page read it, it was kept only from 3,000 rows: the
 * engine reads a short view whole about as fast as the record.)
 */
export const firstScreenFrom = 1;

/** A first screen to show: the first rows of `view`'s list, in order, and the list's length. */
export type FirstScreen = {
  readonly view: string;
  readonly rows: readonly { readonly key: string; readonly value: unknown }[];
  readonly listed: number;
};

/** The record to keep for the views as they are at `position`; none for an empty view. */
export function firstScreenRecord(
  screen: {
    readonly view: string;
    order(views: (view: string) => ReadonlyMap<string, unknown> | undefined): readonly string[];
  },
  views: (view: string) => ReadonlyMap<string, unknown> | undefined,
  position: number,
  from: number = firstScreenFrom,
  /** The list's order, asked for only when a record is kept (a caller may keep it between calls). */
  order: () => readonly string[] = () => screen.order(views),
): FirstScreenRecord | undefined {
  const rows = views(screen.view) ?? new Map<string, unknown>();
  if (rows.size < from) return undefined;
  const keys = order();
  return {
    key: 'firstScreen',
    view: screen.view,
    position,
    counted: rows.size,
    listed: keys.length,
    rows: keys.slice(0, firstScreenRows).map((key) => ({ key, value: rows.get(key) })),
  };
}

/** `firstScreenSchema`'s fields, listed (the schema itself is not for the page's first script). */
export const firstScreenFields: ReadonlySet<string> = new Set([
  'key',
  'view',
  'position',
  'counted',
  'listed',
  'rows',
]);

const plain = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  Object.getPrototypeOf(value) === Object.prototype &&
  !Array.isArray(value);

const count = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * `firstScreenSchema` without its machinery, for a record of `view` whose rows `isRow` vouches
 * for (a projection's fast check): the page's first script reads the kept first screen itself
 * (app/kept-screen.ts) and loads no schema library. Stricter than the schema, never laxer
 * (test/core/first-screen-check.test.ts): a record it refuses is only not shown.
 */
export function isFirstScreenOf(
  value: unknown,
  view: string,
  isRow: (row: unknown) => boolean,
): value is FirstScreenRecord {
  if (!plain(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== firstScreenFields.size || !keys.every((key) => firstScreenFields.has(key)))
    return false;
  const { rows } = value;
  return (
    value.key === 'firstScreen' &&
    value.view === view &&
    view.length <= 64 &&
    count(value.position) &&
    count(value.counted) &&
    count(value.listed) &&
    (value.listed as number) <= (value.counted as number) &&
    Array.isArray(rows) &&
    rows.length === Math.min(value.listed as number, firstScreenRows) &&
    rows.every(
      (row: unknown) =>
        plain(row) &&
        Object.keys(row).length === 2 &&
        typeof row.key === 'string' &&
        'value' in row &&
        isRow(row.value),
    )
  );
}
