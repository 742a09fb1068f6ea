import type { z } from 'zod';
import type { EventEnvelope } from './envelope.ts';
import type { AnyEvent, StoredEvent } from './event-store.ts';

/**
 * A read model fed by events. Pure: the store calls it inside the transaction that appends the
 * events, so a read model can never miss or double-apply one.
 */
export interface Projection<Row, E extends AnyEvent = AnyEvent> {
  /** Names the view; rows of all views share one object store, keyed by [view, key]. */
  readonly view: string;
  /** Which row an event changes, or undefined when the view ignores it. */
  key(event: EventEnvelope<E>): string | undefined;
  /** The row after the event; undefined deletes it. */
  apply(row: Row | undefined, event: StoredEvent<E>): Row | undefined;
  /** Rows read back are validated: storage is an edge. */
  readonly schema: z.ZodType<Row>;
}
