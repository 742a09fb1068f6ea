import type { FirstScreen, FirstScreenRecord } from '../core/first-screen.ts';
import { firstScreenSchema } from '../core/first-screen-schema.ts';
import type { ModelSet } from '../core/model.ts';
import { readRow } from '../core/projection.ts';
import type { TallyDatabase } from './idb-schema.ts';
import { unwrap } from 'idb';
import { readKeptScreen } from '../browser/stored-reads.ts';

/**
 * The first screen kept from the last run, if it is still true (`readKeptScreen`), its record
 * and rows checked by their schemas. A record that fails validation is a cache: not shown, and
 * written again once the views are read.
 */
export async function readFirstScreen(
  db: TallyDatabase,
  models: ModelSet,
): Promise<FirstScreen | undefined> {
  // The model whose list is kept says which view that is.
  const screen = models.all.find((model) => model.firstScreen)?.firstScreen;
  if (!screen) return undefined;
  const tx = db.transaction(['meta', 'views', 'events'], 'readonly');
  const kept = await readKeptScreen(unwrap(tx), screen.view, (record) => {
    const parsed = firstScreenSchema.safeParse(record);
    return parsed.success ? parsed.data : undefined;
  });
  if (!kept) return undefined;
  const { view, listed } = kept;
  const projection = models.view(view);
  if (!projection) return undefined;
  const rows: { key: string; value: unknown }[] = [];
  for (const { key, value } of kept.rows) {
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
