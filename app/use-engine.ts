import { useEffect, useState } from 'react';
import type { CounterRow } from '../core/counter-projections.ts';
import type { EngineNotice, HistoryEntry } from '../core/engine-api.ts';
import type { EngineClient } from './engine-client.ts';

/** The live counter list: a reset, then only the rows each commit changed. */
export function useCounters(client: EngineClient): readonly CounterRow[] | undefined {
  const [rows, setRows] = useState<ReadonlyMap<string, CounterRow>>();
  useEffect(
    () =>
      client.subscribe({ topic: 'counters' }, (update) => {
        if (update.type !== 'counters') return;
        setRows((previous) => {
          const next = new Map(update.reset ? [] : previous);
          for (const row of update.rows) next.set(row.id, row);
          return next;
        });
      }),
    [client],
  );
  return (
    rows && [...rows.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
  );
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
