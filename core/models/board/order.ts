/** The board's one stream: the order of every counter in the space. */
export const boardStream = 'board-main';
/** The board's read model, by name (what a tab subscribes to). */
export const boardViewName = 'board';

/**
 * The counters in the board's order; counters not on it yet (made before the board existed, or
 * just arrived from another device) follow in the order they came in.
 */
export function inBoardOrder<T extends { readonly id: string }>(
  items: readonly T[],
  order: readonly string[] | undefined,
): T[] {
  const rank = new Map((order ?? []).map((id, index) => [id, index]));
  return items
    .map((item, index) => ({ item, index, rank: rank.get(item.id) }))
    .sort(
      (a, b) =>
        (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) ||
        a.index - b.index,
    )
    .map(({ item }) => item);
}
