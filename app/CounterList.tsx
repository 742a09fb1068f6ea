import { lazy, Suspense, useEffect, useRef, type ComponentType, type ReactNode } from 'react';
import type { CounterRow } from '../core/models/counter/projections.ts';

type VirtualGridProps = {
  counters: readonly CounterRow[];
  card: (slot: CardSlot) => ReactNode;
};

/**
 * The virtual grid is loaded only for a long list: most people never run it. Where this device
 * showed a long list last time (`longListHint`), it is loaded as the app starts, beside the
 * engine's start, so the list renders it at once: a component that suspends first shows its
 * fallback, and React holds the content back for up to 300 ms after a fallback (its reveal
 * throttle), which was a third of the start of a 1,000-counter list.
 */
let loadedGrid: ComponentType<VirtualGridProps> | undefined;
const loadGrid = () =>
  import('./VirtualGrid.tsx').then((module) => {
    loadedGrid = module.default;
    return module;
  });
const LazyGrid = lazy(loadGrid);
const longListHint = 'tally.longList';

/** Called as the app starts (app/main.tsx): loads the grid if this device's list was long. */
export function preloadLongList(): void {
  try {
    if (localStorage.getItem(longListHint) === '1') void loadGrid().catch(() => undefined);
  } catch {
    // No storage to read the hint from (a private window may refuse): loaded when needed.
  }
}

/** Up to this many counters every card is in the page (find in page, no surprises). */
export const virtualFrom = 300;

export type CardSlot = {
  readonly row: CounterRow;
  readonly index: number;
  /** For a card in the virtual grid: its place in the whole list, for assistive technology. */
  readonly position?: { readonly posinset: number; readonly setsize: number };
};

/**
 * The counters as a grid. A short list is a plain list; a long one (100,000 counters, say) is
 * rendered a window at a time: only the rows near the screen are in the page, so the list
 * appears at once and scrolls smoothly whatever its length (@tanstack/react-virtual, rows
 * measured as they render, since a card grows with its panels open).
 */
export function CounterList({
  counters,
  card,
}: {
  counters: readonly CounterRow[];
  card: (slot: CardSlot) => ReactNode;
}) {
  const long = counters.length >= virtualFrom;
  // Chosen once, when the long list first renders: switching later would remount the grid.
  const grid = useRef<ComponentType<VirtualGridProps>>(undefined);
  if (long && !grid.current) grid.current = loadedGrid ?? LazyGrid;
  useEffect(() => {
    try {
      localStorage.setItem(longListHint, long ? '1' : '0');
    } catch {
      // The hint only saves time; without storage the grid loads when needed.
    }
  }, [long]);
  if (!long)
    return (
      <ul className="grid" aria-label="Counters">
        {counters.map((row, index) => card({ row, index }))}
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
      <Grid counters={counters} card={card} />
    </Suspense>
  );
}
