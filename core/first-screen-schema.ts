import { firstScreenRows } from './first-screen.ts';
import { z } from './zod.ts';

/**
 * The kept first screen's record (core/first-screen.ts), as the engine checks it when it reads
 * it back. Apart from the rest, so the page's first script, which checks it without a schema
 * library (`isFirstScreenOf`), loads none.
 */
export const firstScreenSchema = z
  .strictObject({
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
  })
  .check(
    // As `firstScreenRecord` makes it: the list within the view, its first rows all there.
    z.refine(
      (record) =>
        record.listed <= record.counted &&
        record.rows.length === Math.min(record.listed, firstScreenRows),
      'The first screen does not agree with itself.',
    ),
  );
export type FirstScreenRecord = z.infer<typeof firstScreenSchema>;
