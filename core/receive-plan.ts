import type { OutboxEntry, StreamBase, StreamHead } from './append-plan.ts';
import type { EventEnvelope, StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import type {
  AnyEvent,
  PendingCommand,
  RebasePlan,
  RejectedAfterSync,
  StoredEvent,
} from './event-store.ts';
import {
  project,
  rowChanges,
  rowKey,
  rowsTouched,
  type ProjectionsOf,
  type RowChange,
  type RowRef,
} from './projection.ts';

/** The server's copy of a stream is not ours below our confirmed head: never guessed over. */
export class DivergedError extends TallyError {
  constructor(
    readonly stream: StreamId,
    version: number,
  ) {
    super(
      'conflict',
      `The server's ${stream} differs from this device's at confirmed version ${version}.`,
    );
  }
}

/** What the store read of one stream before deciding what the server's events do to it. */
export type StreamAtReceive<E extends AnyEvent = AnyEvent> = {
  readonly stream: StreamId;
  readonly version: number;
  readonly confirmed: number;
  /** Joined from a snapshot: no event at or below its version is held here. */
  readonly base?: StreamBase;
  /** The pending suffix: this device's events after the confirmed head, in version order. */
  readonly tail: readonly StoredEvent<E>[];
  /** The stream's pending commands, in the order they were committed. */
  readonly outbox: readonly OutboxEntry[];
  /** This device's event ids at the versions ≤ confirmed that the server's events name. */
  readonly confirmedIds: ReadonlyMap<number, string>;
  /** Commands listed as rejected after sync. */
  readonly rejected: ReadonlySet<string>;
};

type Settled = {
  /** The confirmed head once the echoes of this device's own events are counted. */
  readonly confirmed: number;
  /** Outbox entries (by seq) whose events are all confirmed now. */
  readonly doneOutbox: readonly number[];
  /** Rejections to clear: the server's events carry those commands' outcome. */
  readonly clearRejections: readonly string[];
};

/**
 * What the server's events for one stream mean here (docs/architecture.md, "Sync rules"):
 * - `gap`: they do not follow the confirmed head; nothing is written, the feed catches up;
 * - `confirm`: only echoes of this device's own pending events (or nothing new): the confirmed
 *   head moves, nothing is rewritten;
 * - `extend`: foreign events and nothing pending in their way: appended as confirmed;
 * - `rebase`: foreign events (or a re-check) meet a pending suffix: the suffix is dropped and its
 *   commands re-decided on top.
 * Throws `DivergedError` when an event at or below the confirmed head is not the one here.
 */
export type ReceivePlan<E extends AnyEvent = AnyEvent> =
  | { readonly type: 'gap' }
  | (Settled & { readonly type: 'confirm' })
  | (Settled & { readonly type: 'extend'; readonly foreign: readonly EventEnvelope<E>[] })
  | (Settled & {
      readonly type: 'rebase';
      readonly foreign: readonly EventEnvelope<E>[];
      /** The pending suffix that goes, and the commands to re-decide (oldest first). */
      readonly dropped: readonly StoredEvent<E>[];
      /**
       * The outbox entries the server's events did not confirm: still pending, their commands
       * re-decided (or, come back under other ids, the server's own), their entries rewritten.
       */
      readonly stillPending: readonly OutboxEntry[];
      readonly redecide: readonly PendingCommand<E>[];
    });

export function planReceive<E extends AnyEvent>(
  at: StreamAtReceive<E>,
  remote: readonly EventEnvelope<E>[],
  recheck: boolean,
): ReceivePlan<E> {
  const { stream, tail } = at;
  let confirmed = at.confirmed;
  let echoes = 0;
  const foreign: EventEnvelope<E>[] = [];
  for (const event of remote) {
    if (event.stream !== stream)
      throw new TallyError('invalid', `An event of ${event.stream} came for ${stream}.`);
    if (foreign.length > 0) {
      if (event.version !== confirmed + foreign.length + 1) return { type: 'gap' };
      foreign.push(event);
    } else if (event.version <= confirmed) {
      // Below a base nothing is held to compare with: the snapshot counted it (the feed after
      // a snapshot page may repeat what it counts). At the base, its id is known.
      const base = at.base;
      if (base && event.version < base.version) continue;
      const held = base?.version === event.version ? base.id : at.confirmedIds.get(event.version);
      if (held !== event.id) throw new DivergedError(stream, event.version);
    } else if (event.version !== confirmed + 1) {
      // Not the next one: something was missed. Never guess; the caller catches up.
      return { type: 'gap' };
    } else if (tail[echoes]?.id === event.id) {
      echoes++;
      confirmed++;
    } else foreign.push(event);
  }
  // A command of ours can come back under other event ids: a re-check rewrote its pending
  // events while the push carrying the old ones was in flight. The server's events are then
  // that command's outcome: it must not be re-run on top of them, nor stay "rejected".
  const foreignCommands = new Set(foreign.map((event) => event.meta.command));
  const clearRejections = [...at.rejected].filter((id) => foreignCommands.has(id));
  const doneOutbox: number[] = [];
  const stillPending: OutboxEntry[] = [];
  for (const entry of at.outbox) {
    const done = entry.events.filter((e) => e.version <= confirmed).length;
    // The server accepts a stream's push whole, and pushes carry whole commands.
    if (done > 0 && done < entry.events.length)
      throw new TallyError('invalid', `Command ${entry.commandId} was confirmed only in part.`);
    if (done > 0 || entry.events.length === 0) doneOutbox.push(entry.seq!);
    else stillPending.push(entry);
  }
  const settled = { confirmed, doneOutbox, clearRejections };
  const pendingEvents = tail.slice(echoes);
  if (foreign.length === 0 && !(recheck && pendingEvents.length > 0))
    return { type: 'confirm', ...settled };
  if (pendingEvents.length === 0) return { type: 'extend', ...settled, foreign };
  const byId = new Map(pendingEvents.map((event) => [event.id, event]));
  const redecide: PendingCommand<E>[] = [];
  for (const entry of stillPending) {
    const events = entry.events.map(({ id }) => {
      const event = byId.get(id);
      if (!event) throw new TallyError('invalid', `Command ${entry.commandId} lost its events.`);
      byId.delete(id);
      return event;
    });
    if (!foreignCommands.has(entry.commandId))
      redecide.push({ commandId: entry.commandId, commands: entry.commands, events });
  }
  if (byId.size > 0)
    throw new TallyError('invalid', `Stream ${stream} holds pending events of no command.`);
  return { type: 'rebase', ...settled, foreign, dropped: pendingEvents, stillPending, redecide };
}

/** What a transaction writes to carry out an `extend` or a `rebase`. */
export type ReceiveWrites<E extends AnyEvent = AnyEvent> = {
  readonly add: readonly StoredEvent<E>[];
  /** Positions of the pending events that go (deleted before anything is added). */
  readonly remove: readonly number[];
  readonly outbox: readonly OutboxEntry[];
  readonly rejections: readonly RejectedAfterSync[];
  readonly head: StreamHead;
  readonly position: number;
  readonly rows: readonly RowChange[];
  /** True when the snapshot must go: it may describe a rewritten version. */
  readonly dropSnapshot: boolean;
};

const baseOf = (at: StreamAtReceive): { base?: StreamBase } => (at.base ? { base: at.base } : {});

/** Foreign events extend the stream; the rows they touch are folded from their current values. */
export function planExtend<E extends AnyEvent>(
  at: StreamAtReceive<E>,
  foreign: readonly EventEnvelope<E>[],
  position: number,
  rows: Map<string, unknown>,
  projectionsOf: ProjectionsOf,
): ReceiveWrites<E> {
  const add = foreign.map((event) => ({ ...event, position: ++position }));
  const changed = new Map<string, RowRef>();
  project(add, projectionsOf, rows, changed);
  const last = add.at(-1)?.version ?? at.confirmed;
  return {
    add,
    remove: [],
    outbox: [],
    rejections: [],
    head: { stream: at.stream, version: last, confirmed: last, ...baseOf(at) },
    position,
    rows: rowChanges(rows, changed),
    dropSnapshot: false,
  };
}

/**
 * The rebase written out: the server's events as confirmed, the re-decided commands as the new
 * pending suffix (each keeping its outbox place), rejections recorded, and the stream's rows
 * rebuilt from its events; rows only the old events made (a create rejected now) are deleted.
 */
export function planRebase<E extends AnyEvent>(
  at: StreamAtReceive<E>,
  plan: Extract<ReceivePlan<E>, { type: 'rebase' }>,
  confirmedEvents: readonly StoredEvent<E>[],
  decided: RebasePlan<E>,
  position: number,
  projectionsOf: ProjectionsOf,
  baseRows: readonly {
    readonly view: string;
    readonly key: string;
    readonly value: unknown;
  }[] = [],
): ReceiveWrites<E> {
  const place = (event: EventEnvelope<E>): StoredEvent<E> => ({ ...event, position: ++position });
  const foreign = plan.foreign.map(place);
  const seqOf = new Map(plan.stillPending.map((entry) => [entry.commandId, entry.seq]));
  const pending: StoredEvent<E>[] = [];
  const outbox: OutboxEntry[] = decided.pending.map((command) => {
    const events = command.events.map(place);
    pending.push(...events);
    const seq = seqOf.get(command.commandId);
    return {
      ...(seq === undefined ? {} : { seq }),
      commandId: command.commandId,
      stream: at.stream,
      commands: command.commands,
      events: events.map(({ id, version }) => ({ id, version })),
    };
  });
  const after = [...confirmedEvents, ...foreign, ...pending];
  const rows = new Map<string, unknown>();
  const changed = new Map<string, RowRef>();
  // Joined from a snapshot: the stream's rows start from the snapshot's, not from nothing.
  for (const row of baseRows) {
    const ref = { view: row.view, key: row.key };
    rows.set(rowKey(ref), row.value);
    changed.set(rowKey(ref), ref);
  }
  for (const [k, ref] of rowsTouched([...confirmedEvents, ...plan.dropped], projectionsOf))
    changed.set(k, ref);
  project(after, projectionsOf, rows, changed);
  const confirmed = plan.confirmed + foreign.length;
  return {
    add: [...foreign, ...pending],
    remove: plan.dropped.map((event) => event.position),
    outbox,
    rejections: decided.rejected,
    head: {
      stream: at.stream,
      version: pending.at(-1)?.version ?? confirmed,
      confirmed,
      ...baseOf(at),
    },
    position,
    rows: rowChanges(rows, changed),
    dropSnapshot: true,
  };
}
