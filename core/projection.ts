import type { z } from './zod.ts';
import type { EventEnvelope, StreamId } from './envelope.ts';
import type { AnyEvent, StoredEvent } from './event-store.ts';

/**
 * A read model fed by events. Pure: the store calls it inside the transaction that appends the
 * events, so a read model can never miss or double-apply one.
 */
export interface Projection<Row, E extends AnyEvent = AnyEvent> {
  /** Names the view; rows of all views share one object store, keyed by [view, key]. */
  readonly view: string;
  /**
   * Which row an event changes, or undefined when the view ignores it. A row is fed by the
   * events of one stream only, so rebuilding a stream rebuilds exactly its rows.
   */
  key(event: EventEnvelope<E>): string | undefined;
  /** The row after the event; undefined deletes it. */
  apply(row: Row | undefined, event: StoredEvent<E>): Row | undefined;
  /** Rows read back are validated: storage is an edge. */
  readonly schema: z.ZodMiniType<Row>;
  /**
   * A fast check for rows read back by the thousand (the app's start reads every row of a view):
   * true only for a value `schema` takes exactly as it is. A row it does not vouch for is parsed
   * by `schema`, which also says what is wrong; so it may be stricter than the schema, never
   * laxer (each model's property test checks it against its schema).
   */
  readonly isRow?: (value: unknown) => value is Row;
}

/**
 * A row read back from storage, checked: vouched for by the projection's fast check, or parsed
 * by its schema (which says what is wrong with a damaged one).
 */
export function readRow<Row>(
  projection: Projection<Row>,
  value: unknown,
): ReturnType<z.ZodMiniType<Row>['safeParse']> {
  return projection.isRow?.(value)
    ? { success: true, data: value }
    : projection.schema.safeParse(value);
}

export type RowRef = { readonly view: string; readonly key: string };
/** A row a transaction wrote: its new value, or `undefined` when it deleted it. */
export type RowChange = RowRef & { readonly value: unknown };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
export type ProjectionsOf = (stream: StreamId) => readonly Projection<any>[];

/** Where the store finds the projections: those fed by a stream, and each view by name. */
export interface Projections {
  readonly of: ProjectionsOf;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  view(view: string): Projection<any> | undefined;
}

export const rowKey = ({ view, key }: RowRef): string => `${view}\u0000${key}`;

/** The rows `events` touch, each once. */
export function rowsTouched(
  events: readonly EventEnvelope[],
  projectionsOf: ProjectionsOf,
): Map<string, RowRef> {
  const refs = new Map<string, RowRef>();
  for (const event of events)
    for (const projection of projectionsOf(event.stream)) {
      const key = projection.key(event);
      if (key !== undefined) {
        const ref = { view: projection.view, key };
        refs.set(rowKey(ref), ref);
      }
    }
  return refs;
}

/**
 * The one piece of code that applies projections (docs/architecture.md, "Read models"): for a
 * local commit, the server's events, a rebase and a rebuild alike. `rows` holds the current
 * value of every row the events touch (absent: no row) and is updated in place; the rows changed
 * are added to `changed`.
 */
export function project(
  events: readonly StoredEvent[],
  projectionsOf: ProjectionsOf,
  rows: Map<string, unknown>,
  changed: Map<string, RowRef>,
): void {
  for (const event of events)
    for (const projection of projectionsOf(event.stream)) {
      const key = projection.key(event);
      if (key === undefined) continue;
      const ref = { view: projection.view, key };
      const k = rowKey(ref);
      const value = projection.apply(rows.get(k), event);
      if (value === undefined) rows.delete(k);
      else rows.set(k, value);
      changed.set(k, ref);
    }
}

/** The changes as a transaction writes (and a notification carries) them. */
export const rowChanges = (
  rows: ReadonlyMap<string, unknown>,
  changed: ReadonlyMap<string, RowRef>,
): RowChange[] => [...changed].map(([k, ref]) => ({ ...ref, value: rows.get(k) }));
