import type { FirstScreenRecord } from '../core/first-screen.ts';
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { OutboxEntry, StreamHead } from '../core/append-plan.ts';
import type { RejectedAfterSync, Snapshot, StoredEvent } from '../core/event-store.ts';
import type { EventsRecord } from './event-records.ts';

import type { SyncSettings } from '../core/sync-port.ts';

export type { StreamHead };

export type MetaRecord =
  | {
      readonly key: 'head';
      /**
       * The store's position as last written behind the appends, or by a writer beside them:
       * the position is this or the newest event's, whichever is higher (`readStoredPosition`).
       * (v6 builds wrote it, and a `seq`, with every append; builds before, `append` too.)
       */
      readonly position: number;
      readonly seq?: number;
    }
  /**
   * The position up to which the stored heads, outbox and read-model rows are whole: appends
   * write them behind their events (worker/written-behind.ts), and a start folds the events
   * after it again.
   */
  | { readonly key: 'whole'; readonly position: number }
  | { readonly key: 'device'; readonly device: string }
  | ({ readonly key: 'sync' } & SyncSettings)
  /** The position in the space feed up to which every entry is applied here. */
  | { readonly key: 'cursor'; readonly space: string; readonly cursor: string }
  /**
   * A join from the space's snapshots under way: the first page's cursor of its first attempt,
   * where the feed is followed from once every page is taken (sync-client.ts).
   */
  | { readonly key: 'join'; readonly space: string; readonly cursor: string }
  /** The list's first rows, for the next start (docs/architecture.md, "The first screen"). */
  | FirstScreenRecord;
export type ViewRow = { readonly view: string; readonly key: string; readonly value: unknown };

/** A pending command with its events (ids and versions), in the order it was committed. */
export type OutboxRow = OutboxEntry;

export interface TallyDB extends DBSchema {
  /**
   * Every event once: a record of one event keyed by its position, or a batch of an append's
   * events keyed by its last one's (worker/event-records.ts, which every reader goes through).
   */
  events: {
    key: number;
    value: EventsRecord;
    indexes: { byStream: [string, number]; byVersions: [string, number] };
  };
  /** Each stream's head version (and confirmed head), checked inside the appending transaction. */
  streams: { key: string; value: StreamHead };
  snapshots: { key: string; value: Snapshot };
  /** Rows of every read model, keyed by [view, key]: one view's rows are a key range (`viewRows`). */
  views: { key: [string, string]; value: ViewRow };
  /** Single records: `head`, `whole`, `device`, `sync` (the joined space), `cursor` (the feed's), `join` and `firstScreen`. */
  meta: { key: string; value: MetaRecord };
  /** Commands whose events the server has not accepted yet (docs/architecture.md, "Sync rules"). */
  outbox: { key: number; value: OutboxRow; indexes: { byStream: string } };
  /** Commands rejected after sync, until the person has seen them. */
  rejections: { key: string; value: RejectedAfterSync };
  /**
   * Streams joined from the server's snapshot (docs/architecture.md, "Joining a space"): the
   * state and rows at the version below which this device holds no event, until their history
   * is read from the server.
   */
  bases: { key: string; value: BaseRecord };
}

/** A stream's snapshot as it was joined: where its history on this device starts. */
export type BaseRecord = {
  readonly stream: string;
  readonly version: number;
  readonly id: string;
  readonly space: string;
  /** The model's name and state version, as in `snapshots`. */
  readonly model: string;
  readonly modelVersion: number;
  readonly state: unknown;
  readonly rows: readonly ViewRow[];
};

export type TallyDatabase = IDBPDatabase<TallyDB>;

/**
 * 5: appends write heads, outbox entries and rows behind their events (`meta` `whole`,
 * worker/written-behind.ts). Nothing is migrated (a v4 store is whole at its head), but a build
 * that does not know it must not open such a store: it would miss what is still behind, and
 * what it wrote would be folded again. An upgrade must not read `streams`, `outbox` or `views`:
 * what is behind is made again by the engine's first start after it (`recoverBehind`).
 *
 * 6: the outbox is kept only while a space is stored (worker/outbox.ts): without one, pending
 * commands are on their events alone. Nothing is migrated (a v5 store's outbox is whole), but a
 * v5 build would start sync without making the outbox from the events, and never push them.
 *
 * 7: an append writes only its events; `meta` `head` is written behind them (and by every
 * other writer), so the position is the newest event's, or `head` where higher
 * (`readStoredPosition`). Nothing is migrated (a v6 store's `head` is its position), but a v6
 * build reads `head` alone: it would reuse positions and miss what is still behind.
 *
 * 8: `views` has no `byView` index: a view's rows are the keys that begin with its name
 * (`viewRows`), so a row written is one entry written, not two.
 *
 * 9: an append of several events writes them as one record, a batch, indexed by `byVersions`
 * (worker/event-records.ts). Nothing is migrated (a v8 store's events are records of one), but
 * a v8 build would not see a batch's events.
 *
 * Defined in browser/stored-reads.ts: the page's own read of the first screen checks it too.
 */
export { DB_VERSION } from '../browser/stored-reads.ts';
import { DB_VERSION } from '../browser/stored-reads.ts';

export { viewRows } from '../browser/stored-reads.ts';

/**
 * For the v2 upgrade: the commands that would have produced events written before the outbox
 * existed (v1 kept events only). Model-specific, so the engine passes it in.
 */
export type LegacyCommands = (events: readonly StoredEvent[]) => readonly unknown[];

export function openTallyDB(
  name: string,
  onBlocking?: () => void,
  legacyCommands?: LegacyCommands,
): Promise<TallyDatabase> {
  return openDB<TallyDB>(name, DB_VERSION, {
    upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) {
        const events = db.createObjectStore('events', { keyPath: 'position' });
        // Unique: a second writer that slips past the version check still cannot write a
        // duplicate version; its transaction aborts with a ConstraintError.
        events.createIndex('byStream', ['stream', 'version'], { unique: true });
        db.createObjectStore('streams', { keyPath: 'stream' });
        db.createObjectStore('snapshots', { keyPath: 'stream' });
        db.createObjectStore('views', { keyPath: ['view', 'key'] });
        db.createObjectStore('meta', { keyPath: 'key' });
      }
      if (oldVersion < 2) {
        const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        outbox.createIndex('byStream', 'stream');
        db.createObjectStore('rejections', { keyPath: 'commandId' });
        // A v1 store holds events that no server has seen: they become pending commands, so
        // counters made before sync existed are pushed (and rebased) like any others.
        if (oldVersion >= 1)
          // A failed migration must not half-commit: abort the whole upgrade.
          outboxFromEvents(transaction, legacyCommands).catch(() => transaction.abort());
      }
      if (oldVersion < 3) {
        // v1 and v2 indexed every event by its command, for the rare retried command; that
        // lookup now reads the stream's tail, and each append writes one row less.
        const events = transaction.objectStore('events');
        if ((events.indexNames as DOMStringList).contains('byCommand'))
          events.deleteIndex('byCommand' as never);
      }
      if (oldVersion < 4) db.createObjectStore('bases', { keyPath: 'stream' });
      if (oldVersion < 9)
        // Unique, as `byStream`: a duplicate version aborts the transaction that writes it.
        transaction
          .objectStore('events')
          .createIndex('byVersions', 'versions', { unique: true, multiEntry: true });
      if (oldVersion < 8) {
        // v1–v7 indexed every row by its view, which its key begins with: every row written
        // wrote that index too, and a view is read by a range of the keys instead (`viewRows`).
        const views = transaction.objectStore('views');
        if ((views.indexNames as DOMStringList).contains('byView'))
          views.deleteIndex('byView' as never);
      }
      // v5, v6, v7 and 9 change what the records mean, not the stores (see DB_VERSION).
    },
    // A newer app version wants to upgrade the schema: let it, and stop writing here.
    blocking: onBlocking,
  });
}

type UpgradeTransaction = Parameters<
  NonNullable<Parameters<typeof openDB<TallyDB>>[2]>['upgrade'] & {}
>[3];

async function outboxFromEvents(
  transaction: UpgradeTransaction,
  legacyCommands: LegacyCommands | undefined,
): Promise<void> {
  const outbox = transaction.objectStore('outbox');
  let run: StoredEvent[] = [];
  const flush = async () => {
    const first = run[0];
    if (!first) return;
    const row: OutboxRow = {
      commandId: first.meta.command,
      stream: first.stream,
      commands: legacyCommands?.(run) ?? [],
      events: run.map(({ id, version }) => ({ id, version })),
    };
    run = [];
    await outbox.add(row);
  };
  // Position order; the events of one command are adjacent in it (one commit).
  let cursor = await transaction.objectStore('events').openCursor();
  while (cursor) {
    // A v1 store: every record is one event.
    const event = cursor.value as StoredEvent;
    const last = run.at(-1);
    if (last && (last.stream !== event.stream || last.meta.command !== event.meta.command))
      await flush();
    run.push(event);
    cursor = await cursor.continue();
  }
  await flush();
}

/**
 * Asks `tx` to commit as soon as the requests made on it are done. Without it, Chromium commits
 * only once the worker has been handed every request's result and made no new one: a round trip
 * through the browser process more, after every write (measured: a receive's commit 2.8 → 1.7 ms,
 * bench/device-sync.ts). Only for a transaction whose every request is made already: a request
 * made later (from another's callback, as `writeDecided` makes its heads) throws, and is lost. A
 * failed request still aborts it. One no longer active (it committed on its own, or aborted) is
 * left to finish as it does.
 */
export function commitNow(tx: Pick<IDBTransaction, 'commit'>): void {
  try {
    tx.commit();
  } catch (error) {
    if (!(error instanceof DOMException && error.name === 'InvalidStateError')) throw error;
  }
}

/** Resolves when the transaction commits; rejects with its error when it aborts. */
export function completion(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () =>
      reject(tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
  });
}
