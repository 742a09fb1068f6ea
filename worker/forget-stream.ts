import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import type { OutboxEntry } from '../core/append-plan.ts';
import type { CommitNotice, RejectedAfterSync } from '../core/event-store.ts';
import { rowKey, rowsTouched, type Projections } from '../core/projection.ts';
import { unwrap } from 'idb';
import type { TallyDatabase } from './idb-schema.ts';
import { readStoredPosition } from '../browser/stored-reads.ts';
import { removeStream, streamEvents } from './event-records.ts';

const STORES = [
  'events',
  'streams',
  'snapshots',
  'views',
  'outbox',
  'rejections',
  'bases',
  'meta',
] as const;

/**
 * Drops everything this device holds of one stream, in one transaction: its events, head,
 * snapshot, read-model rows, pending commands and rejections after sync. What "Delete forever"
 * does here, and what the server's tombstone for the stream does on every other device. A stream
 * that is not here writes nothing. Answers what a commit notice tells the tabs: the rows gone.
 */
export async function forgetStream(
  db: TallyDatabase,
  projections: Projections,
  stream: StreamId,
  options: {
    /**
     * Deleted through the server (a tombstone received: another device's "Delete forever", or
     * this one's, under a backup imported since): pending commands dropped here are told as one
     * rejection after sync, so counts made here never vanish without a word.
     */
    readonly tellDropped?: boolean;
  } = {},
): Promise<CommitNotice & { readonly forgotten: number }> {
  const tx = db.transaction(STORES, 'readwrite', { durability: 'strict' });
  const [position, records, outbox, rejections, base] = await Promise.all([
    readStoredPosition(unwrap(tx)),
    streamEvents(tx.objectStore('events'), stream, 1, Number.MAX_SAFE_INTEGER, undefined, {
      lenient: true,
    }),
    tx.objectStore('outbox').index('byStream').getAll(stream),
    tx.objectStore('rejections').getAll(),
    tx.objectStore('bases').get(stream),
  ]);
  // Rows are keyed by what the events name (their stream), never by their data: the raw records
  // are enough, so a damaged event of the stream cannot keep it from being forgotten. A stream
  // joined from a snapshot also has the rows its base names.
  const refs = rowsTouched(records as unknown as EventEnvelope[], projections.of);
  for (const { view, key } of Array.isArray(base?.rows) ? base.rows : [])
    if (typeof view === 'string' && typeof key === 'string')
      refs.set(rowKey({ view, key }), { view, key });
  const rows = [...refs.values()].map(({ view, key }) => ({ view, key, value: undefined }));
  const told =
    options.tellDropped && outbox.length > 0
      ? await dropped(tx, rows, outbox as readonly OutboxEntry[], stream)
      : undefined;
  const removed = removeStream(tx.objectStore('events'), stream);
  const ops: Promise<unknown>[] = [
    removed,
    ...outbox.map((entry) => tx.objectStore('outbox').delete(entry.seq!)),
    ...rejections
      .filter((rejection) => rejection.stream === stream)
      .map((rejection) => tx.objectStore('rejections').delete(rejection.commandId)),
    ...rows.map(({ view, key }) => tx.objectStore('views').delete([view, key])),
    tx.objectStore('streams').delete(stream),
    tx.objectStore('snapshots').delete(stream),
    tx.objectStore('bases').delete(stream),
    ...(told ? [tx.objectStore('rejections').put(told)] : []),
    // Rows go without the head moving: the list's first screen kept for the next start is not
    // true any more (docs/architecture.md, "The first screen").
    tx.objectStore('meta').delete('firstScreen'),
    // The positions of its events stay used, also when they were the newest: the position is
    // the newest event's or `head`'s (worker/written-behind.ts, `readStoredPosition`). Written
    // whatever was found (it is the position as it stands), so no event missed by the read
    // leaves its position to be used again.
    tx.objectStore('meta').put({ key: 'head', position }),
  ];
  await Promise.all([...ops, tx.done]);
  const forgotten = await removed;
  // Its pending commands and rejections went too: sync reads its count and its list again.
  const rebased = forgotten > 0 || records.length > 0 || outbox.length > 0 ? [stream] : [];
  return { events: [], rows, rebased, forgotten };
}

/** The rejection that tells of pending commands a deletion elsewhere dropped here. */
async function dropped(
  tx: ReturnType<TallyDatabase['transaction']>,
  rows: readonly { view: string; key: string }[],
  outbox: readonly OutboxEntry[],
  stream: StreamId,
): Promise<RejectedAfterSync> {
  // Its name, as the read model last showed it.
  const values = await Promise.all(
    rows.map(({ view, key }) => tx.objectStore('views').get([view, key])),
  );
  const name = values
    .map((record) => (record?.value as { name?: unknown } | undefined)?.name)
    .find((candidate): candidate is string => typeof candidate === 'string');
  const changes = outbox.length === 1 ? 'one change' : `${outbox.length} changes`;
  return {
    commandId: outbox[0]!.commandId,
    stream,
    ...(name === undefined ? {} : { name }),
    reason: `${name === undefined ? 'It' : `“${name}”`} was deleted forever, so ${changes} made to it here could not be kept.`,
    at: Date.now(),
  };
}
