import { streamHeadSchema, type StreamBase } from '../core/append-plan.ts';
import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import { TallyError } from '../core/errors.ts';
import type { CommitNotice, StoredEvent } from '../core/event-store.ts';
import type { ModelSet } from '../core/model.ts';
import { readRow, type Projection, type RowChange } from '../core/projection.ts';
import { foldStream, type StreamSnapshot } from '../core/stream-snapshot.ts';
import { unwrap } from 'idb';
import type { BaseRecord, TallyDatabase, ViewRow } from './idb-schema.ts';
import { readStoredPosition } from '../browser/stored-reads.ts';
import { recordsOf } from './event-records.ts';

/**
 * Joining a space from the server's snapshots (docs/architecture.md, "Joining a space"): each
 * stream is installed as a base (its state and rows at a version, its head there, no event at or
 * below it), and its history below is read from the server only when something needs it.
 */

/** A snapshot this device can start a stream from: its model, its shape and its rows check out. */
export type CheckedSnapshot = {
  readonly snapshot: StreamSnapshot;
  readonly model: string;
  readonly state: unknown;
  readonly rows: readonly ViewRow[];
};

/**
 * The server is an edge: a snapshot is taken only when its model is known here, its state is in
 * the shape this build's model has and parses, and every row is one of the model's views and
 * parses. Anything else is read from its events instead (`undefined`).
 */
export function checkSnapshot(
  models: ModelSet,
  snapshot: StreamSnapshot,
): CheckedSnapshot | undefined {
  let model;
  try {
    model = models.modelOf(snapshot.stream);
  } catch {
    return undefined;
  }
  if (snapshot.modelVersion !== model.decider.stateVersion) return undefined;
  const state = model.stateSchema.safeParse(snapshot.state);
  if (!state.success) return undefined;
  const rows: ViewRow[] = [];
  const seen = new Set<string>();
  for (const row of snapshot.rows) {
    const projection = model.projections.find((p) => p.view === row.view);
    if (!projection || !readRow(projection, row.value).success) return undefined;
    // A stream's snapshot names only its own rows: the row its events would key (a row is fed
    // by one stream), once, and a row that names its stream names this one. Another stream's row
    // is never written (nor deleted, when this one is forgotten) from here.
    if (!ownRow(projection, snapshot, row) || seen.has(row.view)) return undefined;
    seen.add(row.view);
    rows.push({ view: row.view, key: row.key, value: row.value });
  }
  return { snapshot, model: model.decider.name, state: state.data, rows };
}

/** Whether `row` is one an event of the snapshot's stream would feed in `projection`. */
function ownRow(
  projection: Projection<unknown>,
  snapshot: StreamSnapshot,
  row: { readonly key: string; readonly value: unknown },
): boolean {
  let key;
  try {
    key = projection.key({
      id: snapshot.id,
      stream: snapshot.stream,
      version: snapshot.version,
      type: 'Created',
      data: {},
      meta: { time: 0, device: 'device-snapshot', command: snapshot.id, schema: 1 },
    });
  } catch {
    return false;
  }
  if (key !== row.key) return false;
  const named = (row.value as { id?: unknown } | null)?.id;
  return named === undefined || named === snapshot.stream;
}

/** What installing a page of bases did. */
export type Installed = {
  /** Streams now based here, with the state their model's rules must learn. */
  readonly based: readonly { readonly stream: StreamId; readonly state: unknown }[];
  /** Streams already held here below the snapshot's version: their events after `after` are read. */
  readonly behind: readonly {
    readonly stream: StreamId;
    readonly after: number;
    readonly version: number;
  }[];
  readonly notice: CommitNotice;
};

/**
 * One transaction: every checked snapshot of a stream this device does not hold becomes a base
 * (head at its version, confirmed there, its rows written); a stream held already is left as it
 * is and named in `behind` when the snapshot is ahead of its confirmed head.
 */
export async function installBases(
  db: TallyDatabase,
  space: string,
  snapshots: readonly CheckedSnapshot[],
): Promise<Installed> {
  const tx = db.transaction(['streams', 'bases', 'views', 'meta'], 'readwrite', {
    durability: 'strict',
  });
  const heads = await Promise.all(
    snapshots.map(({ snapshot }) => tx.objectStore('streams').get(snapshot.stream)),
  );
  const based: { stream: StreamId; state: unknown }[] = [];
  const behind: { stream: StreamId; after: number; version: number }[] = [];
  const rows: RowChange[] = [];
  const ops: Promise<unknown>[] = [];
  snapshots.forEach((checked, i) => {
    const { snapshot } = checked;
    const raw = heads[i];
    if (raw !== undefined) {
      const head = streamHeadSchema.safeParse(raw);
      // A damaged head is left alone (the store names it when the stream is used).
      if (!head.success) return;
      const confirmed = head.data.confirmed ?? 0;
      if (confirmed < snapshot.version)
        behind.push({ stream: snapshot.stream, after: confirmed, version: snapshot.version });
      return;
    }
    const base: StreamBase = { version: snapshot.version, id: snapshot.id, space };
    const record: BaseRecord = {
      stream: snapshot.stream,
      version: snapshot.version,
      id: snapshot.id,
      space,
      model: checked.model,
      modelVersion: snapshot.modelVersion,
      state: checked.state,
      rows: checked.rows,
    };
    ops.push(
      tx.objectStore('streams').put({
        stream: snapshot.stream,
        version: snapshot.version,
        confirmed: snapshot.version,
        base,
      }),
      tx.objectStore('bases').put(record),
      ...checked.rows.map((row) => tx.objectStore('views').put(row)),
    );
    rows.push(...checked.rows);
    based.push({ stream: snapshot.stream, state: checked.state });
  });
  // Rows written without the head moving: the list's first screen kept for the next start is
  // not true any more (docs/architecture.md, "The first screen").
  if (rows.length > 0) ops.push(tx.objectStore('meta').delete('firstScreen'));
  await Promise.all([...ops, tx.done]);
  return { based, behind, notice: { events: [], rows, rebased: [] } };
}

/**
 * A based stream's history below its base, read from the server, stored in one transaction:
 * `events` must be exactly versions 1 to the base's, ending with the base's id. The stream is
 * then whole like any other (its base dropped); rows and heads are as they were. Answers false
 * when the stream is not based (any more): nothing is written.
 */
export async function fillBase(
  db: TallyDatabase,
  stream: StreamId,
  events: readonly EventEnvelope[],
): Promise<{ filled: boolean; stored: readonly StoredEvent[] }> {
  const tx = db.transaction(['events', 'streams', 'bases', 'meta'], 'readwrite', {
    durability: 'strict',
  });
  try {
    const [raw, storedAt] = await Promise.all([
      tx.objectStore('streams').get(stream),
      readStoredPosition(unwrap(tx)),
    ]);
    const head = streamHeadSchema.safeParse(raw).data;
    const base = head?.base;
    if (!head || !base) {
      tx.abort();
      await tx.done.catch(() => undefined);
      return { filled: false, stored: [] };
    }
    const last = events.at(-1);
    if (
      events.length !== base.version ||
      last?.id !== base.id ||
      events.some((event, i) => event.stream !== stream || event.version !== i + 1)
    )
      throw new TallyError(
        'invalid',
        `The server's history of ${stream} does not end where this device joined it.`,
      );
    let position = storedAt;
    const stored = events.map((event) => ({ ...event, position: ++position }));
    const { base: _, ...whole } = head;
    const ops: Promise<unknown>[] = [
      ...recordsOf(stored as StoredEvent[]).map((record) => tx.objectStore('events').add(record)),
      tx.objectStore('streams').put(whole),
      tx.objectStore('bases').delete(stream),
      tx.objectStore('meta').put({ key: 'head', position }),
      // The base's head and rows count these events already: whole at the new position.
      tx.objectStore('meta').put({ key: 'whole', position }),
    ];
    await Promise.all([...ops, tx.done]);
    return { filled: true, stored };
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // Already finished.
    }
    await tx.done.catch(() => undefined);
    throw error;
  }
}

/** A stream based here: where, from which space, and whether this build can start from it. */
export type BaseInfo = {
  readonly stream: StreamId;
  readonly version: number;
  readonly space: string;
  /** False when the base is in another model shape than this build's (an update since). */
  readonly readable: boolean;
};

/** Every stream based here, with the space it was joined from and its base version. */
export async function listBases(db: TallyDatabase, models: ModelSet): Promise<BaseInfo[]> {
  const records = await db.getAll('bases');
  return records.flatMap((record) =>
    typeof record?.stream === 'string' &&
    typeof record.version === 'number' &&
    typeof record.space === 'string'
      ? [
          {
            stream: record.stream,
            version: record.version,
            space: record.space,
            readable: readableBase(models, record),
          },
        ]
      : [],
  );
}

/** Whether this build's model can start the stream from `record`. */
export function readableBase(models: ModelSet, record: BaseRecord): boolean {
  try {
    const model = models.modelOf(record.stream);
    return (
      record.model === model.decider.name &&
      record.modelVersion === model.decider.stateVersion &&
      model.stateSchema.safeParse(record.state).success
    );
  } catch {
    return false;
  }
}

/**
 * Whether `events` (versions 1 to the base's, from the server) fold to exactly what the stream
 * was joined at: its state and its rows. A base of another shape is checked by its id alone.
 */
export function foldsToBase(
  models: ModelSet,
  record: BaseRecord,
  events: readonly EventEnvelope[],
): boolean {
  if (!readableBase(models, record)) return events.at(-1)?.id === record.id;
  let fold;
  try {
    fold = foldStream(models, record.stream, undefined, events);
  } catch {
    return false;
  }
  const sorted = (rows: readonly { view: string; key: string; value: unknown }[]) =>
    JSON.stringify(
      [...rows].sort((a, b) => `${a.view}\u0000${a.key}`.localeCompare(`${b.view}\u0000${b.key}`)),
    );
  return (
    fold.version === record.version &&
    fold.id === record.id &&
    JSON.stringify(fold.state) === JSON.stringify(record.state) &&
    sorted(fold.rows) === sorted(record.rows)
  );
}
