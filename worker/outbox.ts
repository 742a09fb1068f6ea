import type { OutboxEntry, StreamHead } from '../core/append-plan.ts';
import type { StoredEvent } from '../core/event-store.ts';
import type { SyncSettings } from '../core/sync-port.ts';
import type { TallyDatabase } from './idb-schema.ts';
import { rangesEvents } from './event-records.ts';
import { checkOutboxRow, checkStreamHead } from './stored-records.ts';

type Decode = (record: unknown) => StoredEvent;
type CommandsOf = (events: readonly StoredEvent[]) => readonly unknown[];

/**
 * Makes the outbox hold every pending command of this device, in one transaction with what
 * `change` asks (docs/architecture.md, "Pending commands only while syncing"). While no space is
 * stored, appends keep no outbox entries (`WrittenBehind.keepsOutbox`): each command's first
 * event carries its commands, so a stream's pending commands (its events after the confirmed
 * version) are made again from its events here. A stream whose entries already cover exactly
 * those events keeps them as they are; any other gets its pending entries made again, in version
 * order (an entry that still matches its command's events keeps its commands).
 *
 * `forget` (leaving a space, or joining one from none): the space, its feed cursor and join
 * cursor go too, and everything this device holds becomes pending again, so the next space it
 * starts or joins gets its whole history (same event ids, so a space that already has them
 * answers them as its own). Confirmed events get the commands that decide exactly them
 * (`Model.commandsOf`), so a rebase can re-run them too; pending commands keep their place after
 * the history they follow. `settings`: stored with it (sync starts).
 *
 * Creates its transaction before its first await (it runs `beside` the appends).
 */
export async function makeOutboxWhole(
  db: TallyDatabase,
  decode: Decode,
  commandsOf: CommandsOf,
  change: { readonly forget: true } | { readonly forget: false; readonly settings: SyncSettings },
): Promise<void> {
  const tx = db.transaction(['meta', 'streams', 'outbox', 'events'], 'readwrite');
  const events = tx.objectStore('events');
  const outbox = tx.objectStore('outbox');
  const [heads, rows] = await Promise.all([tx.objectStore('streams').getAll(), outbox.getAll()]);
  const kept = rows.map(checkOutboxRow).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const keptOf = new Map<string, OutboxEntry[]>();
  for (const entry of kept) {
    let list = keptOf.get(entry.stream);
    if (!list) keptOf.set(entry.stream, (list = []));
    list.push(entry);
  }
  const history: OutboxEntry[] = [];
  const unconfirmed: StreamHead[] = [];
  /** Streams whose pending entries are made again, with the position of their first event. */
  const remade: { stream: string; first: number; entries: OutboxEntry[] }[] = [];
  // What each stream needs read, decided first; then every read at once (one round trip, not
  // one per stream).
  const reads: { head: StreamHead; confirmed: number; whole: boolean; forgets: boolean }[] = [];
  const ranges: (readonly [string, number, number])[] = [];
  for (const head of heads.map(checkStreamHead)) {
    const confirmed = head.confirmed ?? 0;
    const whole = covers(keptOf.get(head.stream) ?? [], confirmed, head.version);
    // Joined from the space's snapshot and its history below not read (the sync manager reads
    // it before leaving; it could not): it stays confirmed, tied to that space (`readPush`).
    const forgets = change.forget && confirmed > 0 && !head.base;
    if (whole && !forgets) continue;
    const from = forgets ? 1 : confirmed + 1;
    const to = whole ? confirmed : head.version;
    if (to < from) continue;
    reads.push({ head, confirmed, whole, forgets });
    ranges.push([head.stream, from, to]);
  }
  const read = await rangesEvents(events, ranges);
  for (const [i, { head, confirmed, whole, forgets }] of reads.entries()) {
    const records = read[i]!;
    if (forgets) {
      history.push(
        ...commandRuns(
          records.filter((r) => r.version <= confirmed),
          decode,
          commandsOf,
        ),
      );
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
  const ops: Promise<unknown>[] = [];
  const meta = tx.objectStore('meta');
  if (change.forget) {
    const again = new Set(remade.map(({ stream }) => stream));
    ops.push(
      meta.delete('sync'),
      meta.delete('cursor'),
      meta.delete('join'),
      ...unconfirmed.map((head) => tx.objectStore('streams').put(head)),
      outbox.clear(),
    );
    // Fresh sequence numbers, history first: a stream's commands stay in version order.
    for (const entry of [
      ...history,
      ...kept.filter(({ stream }) => !again.has(stream)),
      ...remade.flatMap(({ entries }) => entries),
    ])
      ops.push(outbox.add(withoutSeq(entry)));
  } else {
    for (const { stream } of remade)
      for (const entry of keptOf.get(stream) ?? [])
        if (entry.seq !== undefined) ops.push(outbox.delete(entry.seq));
    for (const { entries } of remade)
      for (const entry of entries) ops.push(outbox.add(withoutSeq(entry)));
    ops.push(meta.put({ key: 'sync', ...change.settings }));
  }
  await Promise.all([...ops, tx.done]);
}

const withoutSeq = ({ seq: _, ...entry }: OutboxEntry): OutboxEntry => entry;

/** Whether `entries` (a stream's, in order) are exactly its events after `confirmed`, to `version`. */
function covers(entries: readonly OutboxEntry[], confirmed: number, version: number): boolean {
  let next = confirmed + 1;
  for (const entry of entries)
    for (const event of entry.events) if (event.version !== next++) return false;
  return next === version + 1;
}

/**
 * A stream's event records (in version order) as the commands that made them: each run of one
 * command id is one entry. Confirmed history (no `pending`) gets the commands that decide exactly
 * its events (`Model.commandsOf`): a command whose part changed nothing (a move to where the
 * counter already was) must not add events when a rebase runs it again in another space. Pending
 * commands get those of an entry in `pending.own` with exactly their events, else those their
 * first event carries (every command decided here), else `commandsOf`.
 */
function commandRuns(
  records: readonly unknown[],
  decode: Decode,
  commandsOf: CommandsOf,
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
    const matches =
      same !== undefined &&
      same.events.length === ids.length &&
      same.events.every((e, i) => e.id === ids[i]!.id && e.version === ids[i]!.version);
    entries.push({
      commandId: first.meta.command,
      stream: first.stream,
      commands: matches
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
