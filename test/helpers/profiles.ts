import { openDB } from 'idb';
import { readFileSync } from 'node:fs';

/** A browser profile's database as an older build left it (test/fixtures/profile-v*.json). */
export type ProfileDump = {
  version: number;
  stores: Record<
    string,
    {
      keyPath: string | string[];
      autoIncrement: boolean;
      /** `multiEntry` is in the dumps made since schema v8. */
      indexes: {
        name: string;
        keyPath: string | string[];
        unique: boolean;
        multiEntry?: boolean;
      }[];
      records: unknown[];
    }
  >;
};

/**
 * Restores `fixture` (a file of test/fixtures, made by an older build: see its .md) as database
 * `name`, byte for byte: its version, its stores and indexes, every record.
 */
export async function restoreProfile(fixture: string, name: string): Promise<ProfileDump> {
  const dump = JSON.parse(
    readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url), 'utf8'),
  ) as ProfileDump;
  const db = await openDB(name, dump.version, {
    upgrade(db) {
      for (const [store, { keyPath, autoIncrement, indexes }] of Object.entries(dump.stores)) {
        const created = db.createObjectStore(store, { keyPath, autoIncrement });
        for (const { name, keyPath, unique, multiEntry = false } of indexes)
          created.createIndex(name, keyPath, { unique, multiEntry });
      }
    },
  });
  for (const [store, { records }] of Object.entries(dump.stores))
    for (const record of records) await db.put(store, record);
  db.close();
  return dump;
}
