import { lazy, Suspense, useEffect, useRef, type ComponentType, type ReactNode } from 'react';
import {
  loadedGrid,
  loadGrid,
  rememberLongList,
  type CardSlot,
  type ListedRows,
  type VirtualGridProps,
  virtualFrom,
} from './long-list.ts';

export type { CardSlot };

const LazyGrid = lazy(loadGrid);

/**
 * The counters as a grid. A short list is a plain list; a long one (100,000 counters, say) is
 * rendered a window at a time: only the rows near the screen are in the page, so the list
 * appears at once and scrolls smoothly whatever its length (@tanstack/react-virtual, rows
 * measured as they render, since a card grows with its panels open).
 */
export function CounterList({
  counters,
  listed,
  stalled,
  card,
}: {
  counters: ListedRows;
  /** The whole list's length, when only its first rows are here (the first screen). */
  listed?: number;
  /** The rest of the list will not come: the engine could not open its storage. */
  stalled?: boolean;
  card: (slot: CardSlot) => ReactNode;
}) {
  const long = (listed ?? counters.length) >= virtualFrom;
  // Chosen once, when the long list first renders: switching later would remount the grid.
  const grid = useRef<ComponentType<VirtualGridProps>>(undefined);
  if (long && !grid.current) grid.current = loadedGrid() ?? LazyGrid;
  useEffect(() => rememberLongList(long), [long]);
  if (!long)
    return (
      // Busy while only the kept first screen is here: a press waits for the engine.
      <ul
        className="grid"
        aria-label="Counters"
        {...(listed !== undefined && !stalled ? { 'aria-busy': true } : {})}
      >
        {Array.from({ length: counters.length }, (_, index) => {
          const row = counters.at(index);
          return row && card({ row, index });
        })}
      </ul>
    );
  const Grid = grid.current!;
  return (
    <Suspense
      fallback={
        <p className="muted" data-loading="grid">
          Opening your counters…
        </p>
      }
    >
      <Grid
        counters={counters}
        {...(listed === undefined ? {} : { listed })}
        {...(stalled ? { stalled } : {})}
        card={card}
      />
    </Suspense>
  );
}
