import { isFirstScreenOf, type FirstScreen } from '../core/first-screen.ts';
import { DB_VERSION, readKeptScreen } from '../browser/stored-reads.ts';

/**
 * The list's first screen, read by the page itself as the app starts (docs/architecture.md,
 * "The first screen"): the engine's SharedWorker takes hundreds of milliseconds to load its
 * script and open the database, and the page's own read of the one record the engine kept
 * overlaps that, so the list shows before the engine is running. Read only: one read
 * transaction, the connection closed at once (and at any version change, so an engine upgrading
 * the database is never held up). Never makes the database: on a first visit there is none, and
 * the open's upgrade is cancelled. A cache, so anything wrong (no such store in an older build's
 * database, a record or row that fails its check, storage refused) answers undefined, and the
 * list comes from the engine as before.
 */
export async function readFirstScreenInPage(
  dbName: string,
  view: string,
  isRow: (row: unknown) => boolean,
): Promise<FirstScreen | undefined> {
  const db = await openExisting(dbName);
  if (!db) return undefined;
  try {
    // Another version's records may mean something else (an older page cached by the service
    // worker, a database an older build left): the engine reads that one.
    if (db.version !== DB_VERSION) return undefined;
    const tx = db.transaction(['meta', 'views', 'events'], 'readonly');
    const kept = await readKeptScreen(tx, view, (record) =>
      isFirstScreenOf(record, view, isRow) ? record : undefined,
    );
    return kept && { view, rows: kept.rows, listed: kept.listed };
  } catch {
    return undefined;
  } finally {
    db.close();
  }
}

function openExisting(name: string): Promise<IDBDatabase | undefined> {
  return new Promise((resolve) => {
    let request: IDBOpenDBRequest;
    try {
      request = indexedDB.open(name);
    } catch {
      resolve(undefined);
      return;
    }
    // Only a database that does not exist yet is upgraded by an open without a version.
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = (event) => {
      // Expected for a first visit (the upgrade cancelled): not an error for the console.
      event.preventDefault();
      resolve(undefined);
    };
  });
}
