import type { OutboxEntry, StreamHead } from './append-plan.ts';
import type { EventEnvelope, StreamId } from './envelope.ts';
import type { AnyEvent, StoredEvent } from './event-store.ts';
import { limits } from './protocol.ts';
import type { PushStream } from './sync-port.ts';

/**
 * What goes into the next push (docs/architecture.md, "Sync rules"), decided without the store:
 * which commands fit, whether a stream can be pushed now and at which version, and whether
 * commands are left for another push. `worker/sync-storage.ts` reads and asks.
 */

/** A stream's commands that fit in a push: the versions of their events, in order. */
export type FittingCommands = { readonly stream: string; readonly versions: number[] };

/**
 * Per stream, oldest first, the versions of its first commands that fit in one push, whole; and
 * whether any command was left out for want of room.
 */
export function commandsThatFit(
  rows: readonly OutboxEntry[],
  room: number = limits.maxEventsPerPush,
): { fit: FittingCommands[]; leftOut: boolean } {
  const byStream = new Map<string, OutboxEntry[]>();
  for (const row of rows) {
    let list = byStream.get(row.stream);
    if (!list) byStream.set(row.stream, (list = []));
    list.push(row);
  }
  const fit: FittingCommands[] = [];
  let budget = room;
  let taken = 0;
  for (const [stream, commands] of byStream) {
    const versions: number[] = [];
    for (const command of commands) {
      if (command.events.length > budget) break;
      versions.push(...command.events.map(({ version }) => version));
      budget -= command.events.length;
      taken++;
    }
    if (versions.length > 0) fit.push({ stream, versions });
    if (budget === 0) break;
  }
  return { fit, leftOut: taken < rows.length };
}

/** What was read for one stream that may be pushed. */
export type PushCandidate = {
  readonly stream: StreamId;
  /** Its stored head, checked; undefined when there is none. */
  readonly head: StreamHead | undefined;
  /** The stored records at the versions its fitting commands name (undefined where missing). */
  readonly stored: readonly unknown[];
  /** The id of this device's event at its stored confirmed head, when there is one. */
  readonly expectedId: { readonly expectedId?: string };
};

/**
 * The stream as it goes into a push, or undefined when it waits: joined from another space's
 * snapshot (this device left it before reading the history below; that space alone can take
 * it), or its versions do not follow its confirmed head (they wait for the next rebase). The
 * confirmed head is the stored one or the one an accepted push raised in memory
 * (`confirmedInMemory`), whichever is higher; at a base, the event there is the server's, so its
 * id is the base's. Every record is decoded (a damaged one throws) unless the stream waits for
 * its space.
 */
export function pushStreamOf<E extends AnyEvent>(
  { stream, head, stored, expectedId }: PushCandidate,
  space: string | undefined,
  confirmedInMemory: number,
  decode: (record: unknown) => StoredEvent<E>,
): PushStream | undefined {
  if (head?.base && head.base.space !== space) return undefined;
  const expectedVersion = Math.max(head?.confirmed ?? 0, confirmedInMemory);
  const id =
    head?.base && expectedVersion === head.base.version && !expectedId.expectedId
      ? { expectedId: head.base.id }
      : expectedId;
  const events = stored.map((record) => envelope(decode(record)) as PushStream['events'][number]);
  if (!events.every((e, i) => e.version === expectedVersion + i + 1)) return undefined;
  return { stream, expectedVersion, ...id, events };
}

/** More: a command of a stream that can be pushed now, not in `streams`. */
export function morePending(
  rows: readonly OutboxEntry[],
  streams: readonly PushStream[],
  waiting: ReadonlySet<StreamId>,
): boolean {
  const pushedTo = new Map(streams.map(({ stream, events }) => [stream, events.at(-1)!.version]));
  return rows.some(
    ({ stream, events }) =>
      !waiting.has(stream) && events.some(({ version }) => version > (pushedTo.get(stream) ?? 0)),
  );
}

/** A stored event as it is sent: without its place in this device's store. */
export const envelope = <E extends AnyEvent>({
  position: _,
  ...event
}: StoredEvent<E>): EventEnvelope<E> => event as EventEnvelope<E>;
