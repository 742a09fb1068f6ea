import type { ComponentType, ReactNode } from 'react';
import type { CounterRow } from '../core/models/counter/projections.ts';

/** A card of the list, as `CounterList` asks its caller to render one. */
export type CardSlot = {
  readonly row: CounterRow;
  readonly index: number;
  /** For a card in the virtual grid: its place in the whole list, for assistive technology. */
  readonly position?: { readonly posinset: number; readonly setsize: number };
};

/**
 * The list's counters in order, as many as it holds, each read when it is shown: an array, or
 * the held rows in the list's order (app/list-order.ts), so a count in a list of 100,000 does
 * not make an array of 100,000.
 */
export type ListedRows = {
  readonly length: number;
  at(index: number): CounterRow | undefined;
};

export type VirtualGridProps = {
  counters: ListedRows;
  /** The whole list's length, when only its first rows are here (the first screen). */
  listed?: number;
  /** The rest of the list will not come: the engine could not open its storage. */
  stalled?: boolean;
  card: (slot: CardSlot) => ReactNode;
};

/** Up to this many counters every card is in the page (find in page, no surprises). */
export const virtualFrom = 300;

/** The grid's least column width and its gap (styles.css `.grid`). */
const minCard = 280;
export const gridGap = 8;

/** How many cards fit a row of the grid `width` pixels wide. */
const columnsFor = (width: number): number =>
  Math.max(1, Math.floor((width + gridGap) / (minCard + gridGap)));

/**
 * The columns a grid element holds and where it starts on the page (its top with the page
 * scrolled to the top): the virtual grid's measure, and the page's drawing of it before React
 * (app/kept-paint.ts). Makes the browser lay the page out.
 */
export const gridPlace = (grid: HTMLElement): { columns: number; top: number } => ({
  columns: columnsFor(grid.clientWidth),
  top: grid.getBoundingClientRect().top + window.scrollY,
});

/**
 * The virtual grid is loaded only for a long list: most people never run it. Where this device
 * showed a long list last time (`longListHint`), it is loaded as the app starts, beside the
 * engine's start, so the list renders it at once: a component that suspends first shows its
 * fallback, and React holds the content back for up to 300 ms after a fallback (its reveal
 * throttle), which was a third of the start of a 1,000-counter list. No React here: the app's
 * first script (app/main.tsx) calls it before React is loaded.
 */
let loaded: ComponentType<VirtualGridProps> | undefined;
export const loadGrid = () =>
  import('./VirtualGrid.tsx').then((module) => {
    loaded = module.default;
    return module;
  });
export const loadedGrid = (): ComponentType<VirtualGridProps> | undefined => loaded;

const longListHint = 'tally.longList';

/** Called as the app starts (app/main.tsx): loads the grid if this device's list was long. */
export function preloadLongList(): void {
  try {
    if (localStorage.getItem(longListHint) === '1') void loadGrid().catch(() => undefined);
  } catch {
    // No storage to read the hint from (a private window may refuse): loaded when needed.
  }
}

const rowHeightHint = 'tally.rowHeight';

/**
 * A row of cards' height as this device last measured it: the virtual grid's estimate for rows
 * not measured yet. Right, the rows it measures as they render change nothing, and render the
 * list no second time; without it (a first start), 120 px, corrected as they are measured.
 */
export function rowHeight(): number {
  try {
    const stored = Number(localStorage.getItem(rowHeightHint));
    if (Number.isFinite(stored) && stored >= 40 && stored <= 2_000) return stored;
  } catch {
    // No storage: the default.
  }
  return 120;
}

export function rememberRowHeight(height: number): void {
  try {
    const rounded = Math.round(height);
    if (rounded !== rowHeight()) localStorage.setItem(rowHeightHint, String(rounded));
  } catch {
    // The hint only saves a render; without storage the rows are measured as they come.
  }
}

/** Remembers, for the next start, whether the list was long. */
export function rememberLongList(long: boolean): void {
  try {
    localStorage.setItem(longListHint, long ? '1' : '0');
  } catch {
    // The hint only saves time; without storage the grid loads when needed.
  }
}
