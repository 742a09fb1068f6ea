import { useEffect, useState } from 'react';
import { flushSync } from 'react-dom';
import type { EngineNotice, HistoryEntry, SyncUpdate } from '../core/engine-protocol.ts';
import type { EngineClient, HeldRows } from './engine-client.ts';

/**
 * An update that waited behind the last one's handling (less than this between them, in ms) came
 * in a backlog: a sync catching up, many transactions' messages queued at once.
 */
const queuedMs = 0.5;
/** When this tab last finished handling a view update. */
let handledAt = Number.NEGATIVE_INFINITY;

/**
 * Sets a view's new rows. A count's update comes alone: rendered now, in the task that brought
 * it, so the number is on screen as soon as its transaction has committed (set from a message,
 * the update waits for React's scheduler to render it in a task of its own: about 0.2 ms more
 * from a click to the number in `npm run bench`). Updates queued behind one another, or in a tab
 * out of sight, are left to React, which renders them together once they are handled (one
 * synchronous render each would cost a list of 100,000 a few milliseconds per transaction).
 */
function showRows(set: () => void): void {
  const now = performance.now();
  if (document.visibilityState === 'hidden' || now - handledAt < queuedMs) set();
  else flushSync(set);
  handledAt = performance.now();
}

/**
 * A live read model, by key: a reset, then only the rows each transaction wrote or deleted. The
 * tab keeps one subscription per view (app/engine-client.ts): rows that came before this
 * component mounted are its first state, so they show in its first render.
 */
export function useView<Row>(client: EngineClient, view: string): HeldRows<Row> | undefined {
  const [rows, setRows] = useState(() => client.viewRows(view) as HeldRows<Row> | undefined);
  useEffect(
    () =>
      // The tab's shared subscription calls back with this view's updates only.
      client.subscribe({ topic: 'view', view }, () =>
        showRows(() => setRows(client.viewRows(view) as HeldRows<Row> | undefined)),
      ),
    [client, view],
  );
  return rows;
}

/** One counter's events in order, with the value after each. */
export function useHistory(
  client: EngineClient,
  stream: string,
): readonly HistoryEntry[] | undefined {
  const [entries, setEntries] = useState<readonly HistoryEntry[]>();
  useEffect(
    () =>
      client.subscribe({ topic: 'history', stream }, (update) => {
        if (update.type !== 'history') return;
        setEntries((previous) =>
          update.reset ? update.entries : [...(previous ?? []), ...update.entries],
        );
      }),
    [client, stream],
  );
  return entries;
}

/** The latest notice of each kind the engine sent (outdated, damaged storage). */
export function useNotices(
  client: EngineClient,
): Partial<Record<EngineNotice['notice'], EngineNotice>> {
  const [notices, setNotices] = useState<Partial<Record<EngineNotice['notice'], EngineNotice>>>({});
  useEffect(
    () =>
      client.subscribe({ topic: 'notices' }, (update) => {
        if (update.type === 'notice') setNotices((old) => ({ ...old, [update.notice]: update }));
      }),
    [client],
  );
  return notices;
}

export function useOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);
  return online;
}

/** Where sync stands, as every tab's sync subscription says. */
export function useSync(client: EngineClient): SyncUpdate | undefined {
  const [sync, setSync] = useState<SyncUpdate>();
  useEffect(
    () =>
      client.subscribe({ topic: 'sync' }, (update) => {
        if (update.type === 'sync') setSync(update);
      }),
    [client],
  );
  return sync;
}
