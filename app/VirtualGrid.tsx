import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useRef, useState } from 'react';
import type { VirtualGridProps } from './long-list.ts';

/** The grid's column width and gap (styles.css `.grid`): how many cards fit a row. */
const minCard = 280;
const gap = 8;

/** The long list of CounterList.tsx, a window of rows at a time. */
export default function VirtualGrid({ counters, card }: VirtualGridProps) {
  const list = useRef<HTMLDivElement>(null);
  const [columns, setColumns] = useState(1);
  const [top, setTop] = useState(0);
  useLayoutEffect(() => {
    const element = list.current;
    if (!element) return;
    const measure = () => {
      setColumns(Math.max(1, Math.floor((element.clientWidth + gap) / (minCard + gap))));
      setTop(element.getBoundingClientRect().top + window.scrollY);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const rows = Math.ceil(counters.length / columns);
  const virtualizer = useWindowVirtualizer({
    count: rows,
    estimateSize: () => 120,
    overscan: 6,
    gap,
    scrollMargin: top,
  });
  return (
    <div
      ref={list}
      role="list"
      aria-label="Counters"
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
            gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
            transform: `translateY(${item.start - top}px)`,
          }}
        >
          {counters.slice(item.index * columns, (item.index + 1) * columns).map((row, offset) => {
            const index = item.index * columns + offset;
            return card({
              row,
              index,
              position: { posinset: index + 1, setsize: counters.length },
            });
          })}
        </div>
      ))}
    </div>
  );
}
