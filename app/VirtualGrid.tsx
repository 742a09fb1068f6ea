import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { drawnGrid } from './kept-paint.ts';
import {
  gridGap as gap,
  gridPlace,
  rememberRowHeight,
  rowHeight,
  type VirtualGridProps,
} from './long-list.ts';

/** The long list of CounterList.tsx, a window of rows at a time. */
export default function VirtualGrid({ counters, listed, stalled, card }: VirtualGridProps) {
  // The first screen holds the list's first rows; the rest shows as it is read.
  const length = Math.max(listed ?? 0, counters.length);
  const list = useRef<HTMLDivElement>(null);
  // Unknown until the grid's width is measured (before the first paint): no cards are rendered
  // for a guess, only to be rendered again in other columns. Known where the page drew the list
  // before React (app/kept-paint.ts): React's first commit replaces that drawing.
  const [painted] = useState(drawnGrid);
  const [columns, setColumns] = useState<number | undefined>(painted?.columns);
  const [top, setTop] = useState(painted?.top ?? 0);
  const [estimate] = useState(rowHeight);
  // The first frame renders the rows on screen only; the rows around them follow in the next
  // (the start's first frame is the page's busiest: every card rendered then delays the list).
  const [overscan, setOverscan] = useState(0);
  useEffect(() => {
    const frame = requestAnimationFrame(() => setOverscan(6));
    return () => cancelAnimationFrame(frame);
  }, []);
  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    const measure = () => {
      const place = gridPlace(element);
      setColumns(place.columns);
      setTop(place.top);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const across = columns ?? 1;
  const rows = columns === undefined ? 0 : Math.ceil(length / across);
  const virtualizer = useWindowVirtualizer({
    count: rows,
    estimateSize: () => estimate,
    overscan,
    gap,
    scrollMargin: top,
    // The window's size from the first render (it is measured after it): the rows on screen are
    // in the first commit.
    initialRect: { width: window.innerWidth, height: window.innerHeight },
  });
  // The rows' height as rendered here, for the next start's estimate: once the rows are first
  // drawn, again once the whole list is here, and when the columns change (not on every scroll).
  // A row of cards, never one of the placeholders of rows not read yet (a start scrolled past the
  // kept first screen draws those first), which are not as tall.
  const drawn = rows > 0;
  const whole = listed === undefined;
  useEffect(() => {
    const row = drawn && list.current?.querySelector('.grid-row:not(:has(.card-later))');
    if (row) rememberRowHeight(row.getBoundingClientRect().height);
  }, [drawn, columns, whole]);
  return (
    <div
      ref={list}
      role="list"
      aria-label="Counters"
      // Busy while only the kept first screen is here: a press waits for the engine.
      {...(listed !== undefined && !stalled ? { 'aria-busy': true } : {})}
      className="virtual-grid"
      style={{ height: virtualizer.getTotalSize() }}
    >
      {virtualizer.getVirtualItems().map((item) => (
        <div
          key={item.key}
          data-index={item.index}
          ref={virtualizer.measureElement}
          role="none"
          className="grid grid-row"
          style={{
            gridTemplateColumns: `repeat(${across}, minmax(0, 1fr))`,
            transform: `translateY(${item.start - top}px)`,
          }}
        >
          {Array.from({ length: Math.min(across, length - item.index * across) }, (_, offset) => {
            const index = item.index * across + offset;
            const row = counters.at(index);
            const position = { posinset: index + 1, setsize: length };
            return row ? (
              card({ row, index, position })
            ) : (
              <div
                key={`later-${index}`}
                role="listitem"
                aria-posinset={position.posinset}
                aria-setsize={position.setsize}
                {...(stalled ? {} : { 'aria-busy': true })}
                className="card card-later"
              >
                <span className="muted">
                  {stalled ? 'Not read: see the message above.' : 'Opening…'}
                </span>
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}
