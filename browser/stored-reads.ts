/**
 * Reads of the stored records that need no library, for the engine and for the page, which reads
 * the kept first screen itself while the engine starts (app/kept-screen.ts): kept out of the
 * modules that load `idb` and zod, which the page's first script must not.
 */

/**
 * Every row of `view`: the keys `[view, key]` for any key (a string; an array sorts after every
 * string, so `[view, []]` bounds them).
 */
export const viewRows = (view: string): IDBKeyRange => IDBKeyRange.bound([view], [view, []]);

/**
 * The store's position, read in `tx` (which spans `events` and `meta`): the newest event's, or
 * what `meta` `head` holds when that is higher (events deleted since — a rebase, a counter
 * deleted forever — leave their positions used). An append writes only its events; `head` is
 * written behind it (`WrittenBehind.write`) and by every other writer, so neither alone is the
 * position (docs/architecture.md, "The path of one command").
 */
export function readStoredPosition(tx: IDBTransaction): Promise<number> {
  return new Promise((resolve, reject) => {
    const head = tx.objectStore('meta').get('head');
    const last = tx.objectStore('events').openKeyCursor(null, 'prev');
    // Requests of one transaction complete in order: `head` has its result already.
    last.onsuccess = () => resolve(Math.max(positionOf(head.result), keyPosition(last.result)));
    last.onerror = () => reject(last.error ?? new Error('An IndexedDB request failed.'));
    head.onerror = () => reject(head.error ?? new Error('An IndexedDB request failed.'));
  });
}

const keyPosition = (cursor: IDBCursor | null): number =>
  positionOf({ position: cursor?.primaryKey });

/** The position a `meta` record (`head`, `whole`) holds, 0 when none or malformed. */
export const positionOf = (record: unknown): number => {
  const position = (record as { position?: unknown } | undefined)?.position;
  return typeof position === 'number' && Number.isInteger(position) && position >= 0 ? position : 0;
};

/** The engine's database, in every browser profile. */
export const tallyDbName = 'tally';

/** The database's version (its history: worker/idb-schema.ts). */
export const DB_VERSION = 9;

const result = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('An IndexedDB request failed.'));
  });

/**
 * The first screen of `view` kept from the last run (docs/architecture.md, "The first screen"),
 * as `check` takes it, if it is still true: written at the store's head, and the view holds as
 * many rows as it did (deleting a counter forever takes its row without moving the head). Read
 * in `tx`, which spans `meta`, `views` and `events`, so the head and the count are of the same
 * moment; every request is made at once, so the page, whose thread is busy starting React, waits
 * for one answer, not three in turn.
 */
export async function readKeptScreen<
  Kept extends { readonly view: string; readonly position: number; readonly counted: number },
>(
  tx: IDBTransaction,
  view: string,
  check: (record: unknown) => Kept | undefined,
): Promise<Kept | undefined> {
  const [record, head, counted] = await Promise.all([
    result(tx.objectStore('meta').get('firstScreen')),
    readStoredPosition(tx),
    result(tx.objectStore('views').count(viewRows(view))),
  ]);
  const kept = record === undefined ? undefined : check(record);
  return kept && kept.view === view && kept.position === head && kept.counted === counted
    ? kept
    : undefined;
}
