import { useEffect, useState } from 'react';
import { flushSync } from 'react-dom';
import type { EngineNotice, HistoryEntry, SyncUpdate } from '../core/engine-protocol.ts';
import type { EngineClient, HeldRows } from './engine-client.ts';

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
        // Rendered now, in the task that brought the rows: a count on screen as soon as its
        // transaction has committed. (Set from a message, the update would wait for React's
        // scheduler to render it in a task of its own: about 0.2 ms more from a click to the
        // number, in `npm run bench`. The engine sends a view's rows once per transaction, so
        // a burst of commands is still one render per batch.)
        flushSync(() => setRows(client.viewRows(view) as HeldRows<Row> | undefined)),
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
