import { z } from './zod.ts';
import { NO_STREAM, streamIdSchema, type StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import type { AnyEvent, Commit, Snapshot, StoredEvent } from './event-store.ts';
import {
  project,
  readRow,
  rowChanges,
  rowsTouched,
  type Projections,
  type RowChange,
  type RowRef,
} from './projection.ts';

/**
 * A stream's head as the store keeps it: its local version (how many events it holds here) and
 * its confirmed version (how many of those the sync server accepted; the rest are pending).
 */
export type StreamHead = {
  readonly stream: StreamId;
  readonly version: number;
  /** Missing in records of a device that never synced (v1): 0. */
  readonly confirmed?: number;
  /**
   * The stream was joined from the server's snapshot (docs/architecture.md, "Joining a space"):
   * this device holds no event at or below `version` (the base record in the `bases` store
   * holds the state and rows there), and `id` is the server's event at `version`. Its confirmed
   * head never goes below `version`.
   */
  readonly base?: StreamBase;
};

/** Where a stream joined by snapshot starts on this device, and the space it was joined from. */
export type StreamBase = {
  readonly version: number;
  readonly id: string;
  readonly space: string;
};

const count = z.number().check(z.int(), z.nonnegative());
export const streamHeadSchema = z.object({
  stream: streamIdSchema,
  version: count,
  confirmed: z.optional(count),
  base: z.optional(
    z.object({
      version: z.number().check(z.int(), z.positive()),
      id: z.string().check(z.minLength(1), z.maxLength(200)),
      space: z.string().check(z.minLength(1), z.maxLength(200)),
    }),
  ),
});

/** A pending command as the store keeps it, next to its events (ids and versions). */
export type OutboxEntry = {
  /** Assigned by the store; orders the commands of a stream. */
  readonly seq?: number;
  readonly commandId: string;
  readonly stream: StreamId;
  readonly commands: readonly unknown[];
  readonly events: readonly { readonly id: string; readonly version: number }[];
};

/** What an append transaction read before deciding: the heads and rows its commits touch. */
export type AppendRead = {
  /** Each stream's stored head record as read (unvalidated), or undefined for a new stream. */
  readonly heads: ReadonlyMap<StreamId, unknown>;
  /** The stored value of each touched row that exists (unvalidated). */
  readonly rows: ReadonlyMap<string, unknown>;
  /** The store-wide position of the newest event. */
  readonly position: number;
};

/** What the transaction then writes, and how each commit fares. */
export type AppendPlan<E extends AnyEvent = AnyEvent> = {
  readonly outcomes: readonly (readonly StoredEvent<E>[] | TallyError)[];
  readonly events: readonly StoredEvent<E>[];
  readonly outbox: readonly OutboxEntry[];
  readonly heads: readonly StreamHead[];
  readonly snapshots: readonly Snapshot[];
  readonly rows: readonly RowChange[];
  readonly position: number;
};

/**
 * What a group commit is decided on, validated: each touched stream's version and confirmed
 * head (absent: a new stream), each touched row's value (absent: no row), the records found
 * damaged, and the store-wide position. The store builds it from a read (`checkRead`) or from
 * what it already knows because it wrote it (docs/architecture.md, "The path of one command").
 */
export type AppendState = {
  readonly versions: ReadonlyMap<StreamId, number>;
  readonly confirmed: ReadonlyMap<StreamId, number>;
  readonly damaged: ReadonlyMap<string, TallyError>;
  readonly rows: ReadonlyMap<string, unknown>;
  readonly position: number;
};

/**
 * What was read, validated: stream heads and rows read back are an edge. A damaged one is left
 * exactly as it is, and every commit that would write over it fails instead, naming it.
 */
export function checkRead(
  commits: readonly Commit[],
  read: AppendRead,
  projections: Projections,
): AppendState {
  const versions = new Map<StreamId, number>();
  const confirmed = new Map<StreamId, number>();
  const damaged = new Map<string, TallyError>();
  for (const [stream, raw] of read.heads) {
    if (raw === undefined) continue;
    const head = streamHeadSchema.safeParse(raw);
    if (!head.success) damaged.set(`stream\u0000${stream}`, damagedHead(stream));
    else {
      versions.set(stream, head.data.version);
      confirmed.set(stream, head.data.confirmed ?? NO_STREAM);
    }
  }
  const touched = rowsToRead(commits, projections);
  const rows = new Map<string, unknown>();
  for (const [k, ref] of touched) {
    if (!read.rows.has(k)) continue;
    const value = read.rows.get(k);
    const projection = projections.view(ref.view);
    if (projection && !readRow(projection, value).success) damaged.set(k, damagedRow(ref));
    rows.set(k, value);
  }

  return { versions, confirmed, damaged, rows, position: read.position };
}

/** The rows a batch of commits touches: what the append transaction reads first. */
export const rowsToRead = (commits: readonly Commit[], projections: Projections) =>
  rowsTouched(
    commits.flatMap((commit) => commit.events),
    projections.of,
  );

const damagedRow = ({ view, key }: RowRef) =>
  new TallyError(
    'invalid',
    `The stored ${view} row “${key.slice(0, 80)}” is damaged; Tally leaves it as it is and writes nothing over it.`,
  );

const damagedHead = (stream: StreamId) =>
  new TallyError(
    'invalid',
    `The stored head of stream ${stream} is damaged; Tally writes nothing to that stream.`,
  );

/**
 * Decides a group commit (docs/architecture.md, "The path of one command"): each commit whose stream is at its
 * expected version gets the next store positions; its events feed the read models; every local
 * command goes to the outbox with its events. A commit that would write over a damaged record,
 * or whose stream moved on, fails alone, writing nothing. Pure: the store carries it out in the
 * transaction it read `read` in.
 */
export function planAppend<E extends AnyEvent>(
  commits: readonly Commit<E>[],
  read: AppendRead,
  projections: Projections,
): AppendPlan<E> {
  return planAppendOn(commits, checkRead(commits, read, projections), projections);
}

/** `planAppend` on a state already validated. Its maps are copied, never changed. */
export function planAppendOn<E extends AnyEvent>(
  commits: readonly Commit<E>[],
  state: AppendState,
  projections: Projections,
): AppendPlan<E> {
  const { confirmed, damaged } = state;
  const versions = new Map(state.versions);
  const rows = new Map(state.rows);
  const projectionsOf = projections.of;
  let position = state.position;
  const outcomes: (readonly StoredEvent<E>[] | TallyError)[] = [];
  const events: StoredEvent<E>[] = [];
  const outbox: OutboxEntry[] = [];
  const snapshots = new Map<StreamId, Snapshot>();
  const changed = new Map<string, RowRef>();
  for (const commit of commits) {
    const harm =
      damaged.size === 0
        ? undefined
        : (damaged.get(`stream\u0000${commit.stream}`) ??
          [...rowsTouched(commit.events, projectionsOf).keys()]
            .map((k) => damaged.get(k))
            .find((error) => error !== undefined));
    const current = versions.get(commit.stream) ?? NO_STREAM;
    if (harm || current !== commit.expectedVersion) {
      outcomes.push(
        harm ??
          new TallyError(
            'conflict',
            `Stream ${commit.stream} is at version ${current}, not ${commit.expectedVersion}: another writer got there first.`,
          ),
      );
      continue;
    }
    const stored = commit.events.map((event) => ({ ...event, position: ++position }));
    project(stored, projectionsOf, rows, changed);
    versions.set(commit.stream, current + stored.length);
    // Every local command goes to the outbox with its events, synced or not: a device may
    // join a space later, and then everything it made is pushed and rebased like any other
    // pending command, without guessing commands from events.
    if (commit.command)
      outbox.push({
        commandId: commit.command.id,
        stream: commit.stream,
        commands: commit.command.commands,
        events: stored.map(({ id, version }) => ({ id, version })),
      });
    if (commit.snapshot) snapshots.set(commit.stream, commit.snapshot);
    outcomes.push(stored);
    events.push(...stored);
  }
  const written = new Set(events.map((event) => event.stream));
  return {
    outcomes,
    events,
    outbox,
    // The confirmed head belongs to sync; an append never moves it.
    heads: [...written].map((stream) => ({
      stream,
      version: versions.get(stream)!,
      confirmed: confirmed.get(stream) ?? NO_STREAM,
    })),
    snapshots: [...snapshots.values()],
    rows: rowChanges(rows, changed),
    position,
  };
}
