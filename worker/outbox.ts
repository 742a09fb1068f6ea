import type { IDBPTransaction } from 'idb';
import type { OutboxEntry } from '../core/append-plan.ts';
import {
  entriesByStream,
  outboxReads,
  rebuildOutbox,
  type CommandsOfEvents,
  type DecodeEvent,
  type RebuiltOutbox,
} from '../core/outbox-rebuild.ts';
import type { SyncSettings } from '../core/sync-port.ts';
import type { TallyDB, TallyDatabase } from './idb-schema.ts';
import { rangesEvents } from './event-records.ts';
import { checkOutboxRow, checkStreamHead } from './stored-records.ts';

type Change =
  { readonly forget: true } | { readonly forget: false; readonly settings: SyncSettings };

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
  decode: DecodeEvent,
  commandsOf: CommandsOfEvents,
  change: Change,
): Promise<void> {
  const tx = db.transaction(['meta', 'streams', 'outbox', 'events'], 'readwrite');
  const events = tx.objectStore('events');
  const outbox = tx.objectStore('outbox');
  const [heads, rows] = await Promise.all([tx.objectStore('streams').getAll(), outbox.getAll()]);
  const kept = rows.map(checkOutboxRow).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const keptOf = entriesByStream(kept);
  // What each stream needs read, decided first; then every read at once (one round trip, not
  // one per stream).
  const reads = outboxReads(heads.map(checkStreamHead), keptOf, change.forget);
  const read = await rangesEvents(
    events,
    reads.map(({ range }) => range),
  );
  const rebuilt = rebuildOutbox(reads, read, keptOf, decode, commandsOf);
  await Promise.all([...writeOutbox(tx, kept, keptOf, rebuilt, change), tx.done]);
}

type OutboxTransaction = IDBPTransaction<
  TallyDB,
  ('meta' | 'streams' | 'outbox' | 'events')[],
  'readwrite'
>;

/**
 * Writes what `rebuildOutbox` made: leaving replaces the whole outbox (and drops the space);
 * starting replaces the entries of the streams made again and stores the settings.
 */
function writeOutbox(
  tx: OutboxTransaction,
  kept: readonly OutboxEntry[],
  keptOf: ReadonlyMap<string, readonly OutboxEntry[]>,
  { history, unconfirmed, remade }: RebuiltOutbox,
  change: Change,
): Promise<unknown>[] {
  const outbox = tx.objectStore('outbox');
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
  return ops;
}

const withoutSeq = ({ seq: _, ...entry }: OutboxEntry): OutboxEntry => entry;
