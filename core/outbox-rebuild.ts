import type { OutboxEntry, StreamHead } from './append-plan.ts';
import type { StoredEvent } from './event-store.ts';

/** Validates one stored event record (its model's codec). */
export type DecodeEvent = (record: unknown) => StoredEvent;
/** The commands that decide exactly these events (`Model.commandsOf`, by the events' model). */
export type CommandsOfEvents = (events: readonly StoredEvent[]) => readonly unknown[];

/**
 * How the outbox is made whole again (docs/architecture.md, "Pending commands only while
 * syncing"), decided without the store: which of each stream's events must be read, and the
 * entries made from them. `worker/outbox.ts` reads and writes.
 */

/** Outbox entries (in their order) by stream. */
export function entriesByStream(entries: readonly OutboxEntry[]): Map<string, OutboxEntry[]> {
  const byStream = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    let list = byStream.get(entry.stream);
    if (!list) byStream.set(entry.stream, (list = []));
    list.push(entry);
  }
  return byStream;
}

/** One stream whose events must be read: which versions, and what is made of them. */
export type OutboxRead = {
  readonly head: StreamHead;
  readonly confirmed: number;
  /** Its entries already cover exactly its pending events: they are kept as they are. */
  readonly whole: boolean;
  /** Leaving the space: its confirmed events become pending again. */
  readonly forgets: boolean;
  /** The stream and the versions to read, from and to, both included. */
  readonly range: readonly [string, number, number];
};

/**
 * What each stream needs read: its pending events when its entries do not cover them exactly
 * (`covers`), and, when `forget`, its confirmed events too, except for a stream joined from the
 * space's snapshot (its history below is not here: it stays confirmed, tied to that space).
 */
export function outboxReads(
  heads: readonly StreamHead[],
  keptOf: ReadonlyMap<string, readonly OutboxEntry[]>,
  forget: boolean,
): OutboxRead[] {
  const reads: OutboxRead[] = [];
  for (const head of heads) {
    const confirmed = head.confirmed ?? 0;
    const whole = covers(keptOf.get(head.stream) ?? [], confirmed, head.version);
    const forgets = forget && confirmed > 0 && !head.base;
    if (whole && !forgets) continue;
    const from = forgets ? 1 : confirmed + 1;
    const to = whole ? confirmed : head.version;
    if (to < from) continue;
    reads.push({ head, confirmed, whole, forgets, range: [head.stream, from, to] });
  }
  return reads;
}

/** The entries made from what `outboxReads` asked for. */
export type RebuiltOutbox = {
  /** Confirmed history made pending again (leaving), stream by stream. */
  readonly history: readonly OutboxEntry[];
  /** The heads that history leaves: nothing confirmed. */
  readonly unconfirmed: readonly StreamHead[];
  /** Streams whose pending entries are made again, by the position of their first event. */
  readonly remade: readonly { readonly stream: string; readonly entries: readonly OutboxEntry[] }[];
};

/**
 * The entries made from each read's event records (`read[i]` for `reads[i]`, in version order,
 * as stored: each is decoded by `decode` before its entry is made).
 */
export function rebuildOutbox(
  reads: readonly OutboxRead[],
  read: readonly (readonly StoredEvent[])[],
  keptOf: ReadonlyMap<string, readonly OutboxEntry[]>,
  decode: DecodeEvent,
  commandsOf: CommandsOfEvents,
): RebuiltOutbox {
  const history: OutboxEntry[] = [];
  const unconfirmed: StreamHead[] = [];
  const remade: { stream: string; first: number; entries: OutboxEntry[] }[] = [];
  for (const [i, { head, confirmed, whole, forgets }] of reads.entries()) {
    const records = read[i]!;
    if (forgets) {
      const below = records.filter((r) => r.version <= confirmed);
      history.push(...commandRuns(below, decode, commandsOf));
      unconfirmed.push({ stream: head.stream, version: head.version, confirmed: 0 });
    }
    if (whole) continue;
    const pending = records.filter((r) => r.version > confirmed);
    remade.push({
      stream: head.stream,
      first: pending[0]?.position ?? 0,
      entries: commandRuns(pending, decode, commandsOf, { own: keptOf.get(head.stream) ?? [] }),
    });
  }
  remade.sort((a, b) => a.first - b.first);
  return { history, unconfirmed, remade };
}

/** Whether `entries` (a stream's, in order) are exactly its events after `confirmed`, to `version`. */
export function covers(
  entries: readonly OutboxEntry[],
  confirmed: number,
  version: number,
): boolean {
  let next = confirmed + 1;
  for (const entry of entries)
    for (const event of entry.events) if (event.version !== next++) return false;
  return next === version + 1;
}

/** Whether `entry` holds exactly these events, same ids at the same versions, in order. */
const holdsExactly = (
  entry: OutboxEntry | undefined,
  events: readonly { readonly id: string; readonly version: number }[],
): entry is OutboxEntry =>
  entry !== undefined &&
  entry.events.length === events.length &&
  entry.events.every((e, i) => e.id === events[i]!.id && e.version === events[i]!.version);

/**
 * A stream's event records (in version order) as the commands that made them: each run of one
 * command id is one entry. Confirmed history (no `pending`) gets the commands that decide exactly
 * its events (`Model.commandsOf`): a command whose part changed nothing (a move to where the
 * counter already was) must not add events when a rebase runs it again in another space. Pending
 * commands get those of an entry in `pending.own` with exactly their events, else those their
 * first event carries (every command decided here), else `commandsOf`.
 */
export function commandRuns(
  records: readonly unknown[],
  decode: DecodeEvent,
  commandsOf: CommandsOfEvents,
  pending?: { readonly own: readonly OutboxEntry[] },
): OutboxEntry[] {
  const ownBy = new Map(pending?.own.map((entry) => [entry.commandId, entry]));
  const entries: OutboxEntry[] = [];
  let run: StoredEvent[] = [];
  let carried: unknown;
  const flush = () => {
    const first = run[0];
    if (!first) return;
    const ids = run.map(({ id, version }) => ({ id, version }));
    const same = ownBy.get(first.meta.command);
    entries.push({
      commandId: first.meta.command,
      stream: first.stream,
      commands: holdsExactly(same, ids)
        ? same.commands
        : pending && Array.isArray(carried)
          ? carried
          : commandsOf(run),
      events: ids,
    });
    run = [];
  };
  for (const record of records) {
    const event = decode(record);
    if (run[0] && run[0].meta.command !== event.meta.command) flush();
    if (run.length === 0) carried = (record as { commands?: unknown }).commands;
    run.push(event);
  }
  flush();
  return entries;
}

/** A stored event record as read leniently (the start's fold): what its outbox entry needs. */
export type RecoveredEvent = {
  readonly id: string;
  readonly stream: string;
  readonly version: number;
  readonly meta?: { readonly command?: unknown };
  readonly commands?: unknown;
};

/**
 * The outbox entries of events read in position order (the start's fold of what is behind,
 * `recoverBehind`), one event at a time onto `outbox`: each local command's first event carries
 * its commands and starts an entry; the events after it of the same stream and command join that
 * entry. Any other event (another device's, or one whose command's first event is not among
 * those read) makes no entry.
 */
export function followCommand(outbox: OutboxEntry[], event: RecoveredEvent): void {
  const command = event.meta?.command;
  const entry = outbox.at(-1);
  if (Array.isArray(event.commands) && typeof command === 'string')
    outbox.push({
      commandId: command,
      stream: event.stream,
      commands: event.commands as unknown[],
      events: [{ id: event.id, version: event.version }],
    });
  else if (entry && entry.stream === event.stream && entry.commandId === command)
    (entry.events as { id: string; version: number }[]).push({
      id: event.id,
      version: event.version,
    });
}
