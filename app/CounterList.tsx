import { lazy, Suspense, type ReactNode } from 'react';
import type { CounterRow } from '../core/models/counter/projections.ts';

// Loaded only for a long list: most people never download it.
const VirtualGrid = lazy(() => import('./VirtualGrid.tsx'));

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
  if (counters.length < virtualFrom)
    return (
      <ul className="grid" aria-label="Counters">
        {counters.map((row, index) => card({ row, index }))}
      </ul>
    );
  return (
    <Suspense fallback={<p className="muted">Opening your counters…</p>}>
      <VirtualGrid counters={counters} card={card} />
    </Suspense>
  );
}
