import {
  firstScreenSchema,
  type FirstScreen,
  type FirstScreenRecord,
} from '../core/first-screen.ts';
import { readRow, type Projections } from '../core/projection.ts';
import { viewRows, type TallyDatabase } from './idb-schema.ts';
import { unwrap } from 'idb';
import { readStoredPosition } from './written-behind.ts';

/**
 * The first screen kept from the last run (docs/architecture.md, "The first screen"), if it is
 * still true: written at the store's head, and the view holds as many rows as it did (deleting a
 * counter forever takes its row without moving the head). One read transaction, so the head and
 * the count are of the same moment. A record that fails validation is a cache: not shown, and
 * written again once the views are read.
 */
export async function readFirstScreen(
  db: TallyDatabase,
  projections: Projections,
): Promise<FirstScreen | undefined> {
  const tx = db.transaction(['meta', 'views', 'events'], 'readonly');
  const [record, head] = await Promise.all([
    tx.objectStore('meta').get('firstScreen'),
    readStoredPosition(unwrap(tx)),
  ]);
  if (record === undefined) return undefined;
  const parsed = firstScreenSchema.safeParse(record);
  if (!parsed.success || parsed.data.position !== head) return undefined;
  const { view, counted, listed } = parsed.data;
  const projection = projections.view(view);
  if (!projection) return undefined;
  if ((await tx.objectStore('views').count(viewRows(view))) !== counted) return undefined;
  const rows: { key: string; value: unknown }[] = [];
  for (const { key, value } of parsed.data.rows) {
    const row = readRow(projection, value);
    if (!row.success) return undefined;
    rows.push({ key, value: row.data });
  }
  return { view, rows, listed };
}

/** Keeps `record` for the next start, in a relaxed transaction of its own (a cache). */
export async function writeFirstScreen(
  db: TallyDatabase,
  record: FirstScreenRecord,
): Promise<void> {
  const tx = db.transaction('meta', 'readwrite', { durability: 'relaxed' });
  await Promise.all([tx.store.put(record), tx.done]);
}
