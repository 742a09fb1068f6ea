/** The board's one stream: the order of every counter in the space. */
export const boardStream = 'board-main';
/** The board's read model, by name (what a tab subscribes to). */
export const boardViewName = 'board';

/**
 * Each id's place on the board, made once per order (a board row is replaced, not changed, when
 * the order changes): the list is ordered again on every count, and making this map for a
 * 100,000-counter board was most of that.
 */
const ranks = new WeakMap<readonly string[], ReadonlyMap<string, number>>();
const noRanks: ReadonlyMap<string, number> = new Map();
function ranksOf(order: readonly string[] | undefined): ReadonlyMap<string, number> {
  if (!order) return noRanks;
  let rank = ranks.get(order);
  if (!rank) {
    rank = new Map(order.map((id, index) => [id, index]));
    ranks.set(order, rank);
  }
  return rank;
}

/**
 * The counters in the board's order; counters not on it yet (made before the board existed, or
 * just arrived from another device) follow in the order they came in.
 */
export function inBoardOrder<T extends { readonly id: string }>(
  items: readonly T[],
  order: readonly string[] | undefined,
): T[] {
  const rank = ranksOf(order);
  return items
    .map((item, index) => ({ item, index, rank: rank.get(item.id) }))
    .sort(
      (a, b) =>
        (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) ||
        a.index - b.index,
    )
    .map(({ item }) => item);
}

/**
 * The counters as the list shows them: archived ones left out (they are under "Archived"), by
 * creation, ties by id in code-point order (the same everywhere, and no collator per pair:
 * 100,000 rows made in bulk share many milliseconds), then in the board's order.
 */
export function counterListOrder<
  T extends { readonly id: string; readonly createdAt: number; readonly archived?: true },
>(rows: Iterable<T>, order: readonly string[] | undefined): T[] {
  const listed: T[] = [];
  for (const row of rows) if (!row.archived) listed.push(row);
  listed.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return inBoardOrder(listed, order);
}
