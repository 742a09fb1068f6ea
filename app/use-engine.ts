import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
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
 * Shows a view's update: `render`, or where the update changes only what its rows' own watchers
 * show, `rowsOnly` (a count: its card renders, not the page around it). An update that comes
 * alone is rendered now, in the task that brought it, so the number is on screen as soon as its
 * transaction has committed (set from a message, the update waits for React's scheduler to
 * render it in a task of its own: about 0.2 ms more from a click to the number in `npm run
 * bench`). Updates queued behind one another, or in a tab out of sight, are left to React, which
 * renders them together once they are handled (one synchronous render each would cost a list of
 * 100,000 a few milliseconds per transaction): then the page renders them, and each card its row.
 */
function showRows(render: () => void, rowsOnly: (() => void) | undefined): void {
  const now = performance.now();
  if (document.visibilityState === 'hidden' || now - handledAt < queuedMs) render();
  else flushSync(rowsOnly ?? render);
  handledAt = performance.now();
}

/**
 * Watchers of single rows of one view (a card each): told when an update changed their row, so
 * an update that changes nothing else renders those rows alone (`useView`'s `rows`).
 */
export class RowWatch {
  private readonly watchers = new Map<string, Set<() => void>>();
  constructor(
    private readonly client: EngineClient,
    readonly view: string,
  ) {}
  /** The row as the tab holds it now. */
  row(key: string): unknown {
    return this.client.viewRows(this.view)?.get(key);
  }
  watch(key: string, onChange: () => void): () => void {
    let watchers = this.watchers.get(key);
    if (!watchers) this.watchers.set(key, (watchers = new Set()));
    watchers.add(onChange);
    return () => {
      watchers.delete(onChange);
      if (watchers.size === 0 && this.watchers.get(key) === watchers) this.watchers.delete(key);
    };
  }
  changed(keys: Iterable<string>): void {
    for (const key of keys)
      // A copy: a watcher may end (or start) watching as it is told.
      for (const onChange of [...(this.watchers.get(key) ?? [])]) {
        try {
          onChange();
        } catch (error) {
          console.error('Tally: a row watcher failed', error);
        }
      }
  }
}

/**
 * One row of a view as it is now: `shown` (the row the page rendered the component with) until
 * the tab holds a newer one, which this component then renders by itself. With `same`, a newer
 * row that `same` finds no different from the one last rendered renders nothing: the component
 * keeps the row it has (a card whose number renders on its own, `CountValue`).
 */
export function useRow<Row>(
  watch: RowWatch,
  key: string,
  shown: Row,
  same?: (rendered: Row, now: Row) => boolean,
): Row {
  const subscribe = useRowWatch(watch, key);
  // The row last given to React: kept while `same` finds the newer one no different. (Set
  // from the snapshot, as React's own selector hook keeps its memo: the same for every call
  // while the row is unchanged, so React reads a stable snapshot.)
  const [rendered] = useState<{ row?: Row }>(() => ({}));
  const snapshot = useCallback(() => {
    const now = (watch.row(key) as Row | undefined) ?? shown;
    const kept = rendered.row;
    if (same && kept !== undefined && kept !== now && same(kept, now)) return kept;
    rendered.row = now;
    return now;
  }, [watch, key, shown, same, rendered]);
  return useSyncExternalStore(subscribe, snapshot);
}

/** One field of a row as it is now, rendered when it changes (and nothing else of the row). */
export function useRowField<Row, Field>(
  watch: RowWatch,
  key: string,
  shown: Row,
  field: (row: Row) => Field,
): Field {
  const subscribe = useRowWatch(watch, key);
  const snapshot = useCallback(
    () => field((watch.row(key) as Row | undefined) ?? shown),
    [watch, key, shown, field],
  );
  return useSyncExternalStore(subscribe, snapshot);
}

/** `useSyncExternalStore`'s subscribe for one row of `watch`. */
function useRowWatch(watch: RowWatch, key: string): (onChange: () => void) => () => void {
  return useCallback((onChange: () => void) => watch.watch(key, onChange), [watch, key]);
}

/**
 * A live read model, by key: a reset, then only the rows each transaction wrote or deleted. The
 * tab keeps one subscription per view (app/engine-client.ts): rows that came before this
 * component mounted are its first state, so they show in its first render. With `rows`, an
 * update whose changed keys `renders` says this component need not render (a count) is shown by
 * those rows' watchers alone; the rows this component holds still read as they are now.
 */
export function useView<Row>(
  client: EngineClient,
  view: string,
  rows?: { readonly watch: RowWatch; renders(keys: readonly string[]): boolean },
): HeldRows<Row> | undefined {
  const [held, setHeld] = useState(() => client.viewRows(view) as HeldRows<Row> | undefined);
  useEffect(
    () =>
      // The tab's shared subscription calls back with this view's updates only.
      client.subscribe({ topic: 'view', view }, (update) => {
        const keys =
          update.type === 'view' && !update.reset
            ? [...update.removed, ...update.rows.map(({ key }) => key)]
            : undefined;
        // Rendered by this component, its rows' watchers render with it (it gives them their
        // rows).
        const render = () => setHeld(client.viewRows(view) as HeldRows<Row> | undefined);
        showRows(
          render,
          rows && keys && !rows.renders(keys) ? () => rows.watch.changed(keys) : undefined,
        );
      }),
    [client, view, rows],
  );
  return held;
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

/**
 * A part of where sync stands (`pick`), the same value while `same` finds it unchanged: sync
 * updates come with every count while a space is stored (the pending count, syncing → synced),
 * and a component that shows only some of it renders only when that part changes.
 */
export function useSyncPart<Part>(
  client: EngineClient,
  pick: (update: SyncUpdate) => Part,
  same: (a: Part, b: Part) => boolean,
): Part | undefined {
  const [part, setPart] = useState<Part>();
  useEffect(
    () =>
      client.subscribe({ topic: 'sync' }, (update) => {
        if (update.type !== 'sync') return;
        const next = pick(update);
        setPart((previous) => (previous !== undefined && same(previous, next) ? previous : next));
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `pick` and `same` are pure: taken once
    [client],
  );
  return part;
}
