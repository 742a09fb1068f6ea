import { z } from './zod.ts';

/**
 * The first screen (docs/architecture.md, "The first screen"): the first rows of a model's list,
 * in its order, kept beside the views (`meta` record `firstScreen`) so the next start shows them
 * before the whole view is read: with 100,000 counters, reading every row takes seconds.
 */

/** Rows kept: a long list's first window and more. */
export const firstScreenRows = 300;
/**
 * Kept only for a view of at least this many rows: below, reading the whole view costs about
 * what reading the first screen does (measured at 1,000 rows, both arrive together at a cold
 * start), and showing the first screen first would only render the list twice.
 */
export const firstScreenFrom = 3_000;

export const firstScreenSchema = z.strictObject({
  key: z.literal('firstScreen'),
  view: z.string().check(z.maxLength(64)),
  /**
   * The position of the last event the rows reflect. Kept true only while it is the store's
   * head, and the view holds `counted` rows: every event moves the head; deleting a counter
   * forever does not, but takes its row.
   */
  position: z.number().check(z.int(), z.nonnegative()),
  counted: z.number().check(z.int(), z.nonnegative()),
  /** How many rows the list shows (archived counters, say, are not in it). */
  listed: z.number().check(z.int(), z.nonnegative()),
  rows: z
    .array(z.strictObject({ key: z.string(), value: z.unknown() }))
    .check(z.maxLength(firstScreenRows)),
});
export type FirstScreenRecord = z.infer<typeof firstScreenSchema>;

/** A first screen to show: the first rows of `view`'s list, in order, and the list's length. */
export type FirstScreen = {
  readonly view: string;
  readonly rows: readonly { readonly key: string; readonly value: unknown }[];
  readonly listed: number;
};

/** The record to keep for the views as they are at `position`; none for a short view. */
export function firstScreenRecord(
  screen: {
    readonly view: string;
    order(views: (view: string) => ReadonlyMap<string, unknown> | undefined): readonly string[];
  },
  views: (view: string) => ReadonlyMap<string, unknown> | undefined,
  position: number,
  from: number = firstScreenFrom,
  /** The list's order, asked for only for a long view (a caller may keep it between calls). */
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
