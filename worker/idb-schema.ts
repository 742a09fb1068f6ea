import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Snapshot, StoredEvent } from '../core/event-store.ts';

export type StreamHead = { readonly stream: string; readonly version: number };
export type MetaRecord =
  | { readonly key: 'head'; readonly position: number }
  | { readonly key: 'device'; readonly device: string };
export type ViewRow = { readonly view: string; readonly key: string; readonly value: unknown };

export interface TallyDB extends DBSchema {
  /** Every event once, keyed by its store-wide position. */
  events: {
    key: number;
    value: StoredEvent;
    indexes: { byStream: [string, number]; byCommand: string };
  };
  /** Each stream's head version, checked inside the appending transaction. */
  streams: { key: string; value: StreamHead };
  snapshots: { key: string; value: Snapshot };
  /** Rows of every read model, keyed by [view, key]. */
  views: { key: [string, string]; value: ViewRow; indexes: { byView: string } };
  /** Single records: `head` holds the last position written, `device` this profile's id. */
  meta: { key: string; value: MetaRecord };
}

export type TallyDatabase = IDBPDatabase<TallyDB>;

export const DB_VERSION = 1;

export function openTallyDB(name: string, onBlocking?: () => void): Promise<TallyDatabase> {
  return openDB<TallyDB>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        const events = db.createObjectStore('events', { keyPath: 'position' });
        // Unique: a second writer that slips past the version check still cannot write a
        // duplicate version; its transaction aborts with a ConstraintError.
        events.createIndex('byStream', ['stream', 'version'], { unique: true });
        events.createIndex('byCommand', 'meta.command');
        db.createObjectStore('streams', { keyPath: 'stream' });
        db.createObjectStore('snapshots', { keyPath: 'stream' });
        const views = db.createObjectStore('views', { keyPath: ['view', 'key'] });
        views.createIndex('byView', 'view');
        db.createObjectStore('meta', { keyPath: 'key' });
      }
    },
    // A newer app version wants to upgrade the schema: let it, and stop writing here.
    blocking: onBlocking,
  });
}
