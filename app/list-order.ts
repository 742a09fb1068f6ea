import { useMemo } from 'react';
import { counterListOrder } from '../core/models/board/order.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import type { HeldRows } from './engine-client.ts';

/** An archived row's place: out of the list (creation times are never negative). */
const archived = -1;
/** Where a row goes in the list: by its creation, or out of it (archived). */
const placeOf = (row: CounterRow): number => (row.archived ? archived : row.createdAt);

/** The list's order as last made, and from what. */
export type ListOrder = {
  readonly rows: HeldRows<CounterRow>;
  readonly board: readonly string[] | undefined;
  /** The listed counters' ids, in the list's order. */
  readonly ids: readonly string[];
  /** Each row's place (`placeOf`) when the order was made. */
  readonly places: ReadonlyMap<string, number>;
  /** Each row's name as last rendered by the page (`movesTheList`). */
  readonly names: Map<string, string>;
};

/**
 * Whether the rows of `keys`, as they are now, change what the page renders outside their cards:
 * the list's order (as `listOrder` decides it), or a name (the archived list, the backup's check
 * of names, a card's error message). A count changes neither: only its card renders it
 * (app/use-engine.ts `useView`). With no order made yet, anything may.
 */
export function movesTheList(
  kept: ListOrder | undefined,
  rows: HeldRows<CounterRow>,
  keys: Iterable<string>,
): boolean {
  if (!kept || placesMoved(kept, rows, keys)) return true;
  for (const key of keys) {
    const row = rows.get(key);
    if (row && row.name !== kept.names.get(key)) return true;
  }
  return false;
}

/**
 * Whether a row of `keys` was added, removed, archived or restored, or got another creation time
 * since `kept` was made. Any change to an archived row counts too: the archived list shows its
 * name, which a rebase may change without changing its version (a rename refused after sync).
 */
function placesMoved(kept: ListOrder, rows: HeldRows<CounterRow>, keys: Iterable<string>): boolean {
  for (const key of keys) {
    const row = rows.get(key);
    const place = row && placeOf(row);
    if (place !== kept.places.get(key) || place === archived) return true;
  }
  return false;
}

/**
 * The list's order (`counterListOrder`) for `rows`, made again only when something that places
 * a row changed since `kept` was made: a row added or removed, archived or restored, its creation
 * time changed, any change to an archived row, or the board's order. A count changes none of
 * them, so on a count the same ids come back (the same array) at the cost of the keys that
 * update changed, where ordering 100,000 counters again cost 10–13 ms a count.
 */
export function listOrder(
  kept: ListOrder | undefined,
  rows: HeldRows<CounterRow>,
  board: readonly string[] | undefined,
): ListOrder {
  if (kept && kept.board === board) {
    const changed = rows.changedSince(kept.rows);
    if (changed && !placesMoved(kept, rows, changed)) {
      // A rename keeps the order; its name is the one rendered now.
      for (const key of changed) {
        const row = rows.get(key);
        if (row) kept.names.set(key, row.name);
      }
      return { ...kept, rows };
    }
  }
  const places = new Map<string, number>();
  const names = new Map<string, string>();
  for (const [key, row] of rows) {
    places.set(key, placeOf(row));
    names.set(key, row.name);
  }
  return {
    rows,
    board,
    ids: counterListOrder(rows.values(), board).map((row) => row.id),
    places,
    names,
  };
}

/**
 * What the last order was made from: a component's own cache, replaced only by `useListOrder`
 * (so a render React throws away leaves it right for the rows it was made from) and read by
 * `movesTheList` when an update comes.
 */
export type OrderCache = { kept?: ListOrder };

/**
 * The ids of the list's counters in order, the same array while the order is the same. From a
 * first screen (`listed` set) its rows are already the list's first ones, in order.
 */
export function useListOrder(
  rows: HeldRows<CounterRow> | undefined,
  board: readonly string[] | undefined,
  listed: number | undefined,
  cache: OrderCache,
): readonly string[] | undefined {
  return useMemo(() => {
    if (!rows) return undefined;
    if (listed !== undefined) {
      cache.kept = undefined;
      return [...rows.values()].filter((row) => !row.archived).map((row) => row.id);
    }
    cache.kept = listOrder(cache.kept, rows, board);
    return cache.kept.ids;
  }, [cache, rows, board, listed]);
}
