import { useEffect, useSyncExternalStore } from 'react';
import type { SyncRejection } from '../core/engine-protocol.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import { undoCommands } from '../core/models/counter/undo.ts';
import type { Change, Run } from './App.tsx';
import { focusWhenShown } from './focus.ts';

/**
 * The person's last change to a value, which Undo puts back. Kept outside the page's state, so
 * a count that offers it renders the offer alone, not the page and every card with it.
 */
export class LastChange {
  private change: Change | undefined;
  private readonly watchers = new Set<() => void>();
  readonly get = (): Change | undefined => this.change;
  readonly set = (change: Change | undefined): void => {
    if (change === this.change) return;
    this.change = change;
    for (const onChange of [...this.watchers]) onChange();
  };
  readonly watch = (onChange: () => void): (() => void) => {
    this.watchers.add(onChange);
    return () => void this.watchers.delete(onChange);
  };
}

/** "+1 on Water · was 3", with Undo. */
export function UndoOffer({
  last,
  run,
  rejectionsOf,
  rows,
}: {
  last: LastChange;
  run: Run;
  /** Each counter's commands that sync rejected. */
  rejectionsOf: ReadonlyMap<string, readonly SyncRejection[]>;
  /**
   * Every counter, once the whole list is here: the page renders this offer again whenever a
   * counter is renamed, archived or removed (app/list-order.ts), never on a count.
   */
  rows?: ReadonlyMap<string, CounterRow>;
}) {
  const change = useSyncExternalStore(last.watch, last.get);
  const row = change && rows?.get(change.id);
  // A change that sync then rejected is no change to undo: undoing it would count what nobody
  // counted. (Any rejection of that counter since the change takes the offer away.) Nor is a
  // change to a counter archived or gone since: its card is gone, and undoing would be refused.
  const gone = change !== undefined && rows !== undefined && (row === undefined || row.archived);
  useEffect(() => {
    if (!change) return;
    if (gone || rejectionsOf.get(change.id)?.some((r) => r.at >= change.at)) last.set(undefined);
  }, [change, gone, rejectionsOf, last]);
  if (!change || gone) return null;
  return (
    <div className="undo" role="status" aria-label="Last change">
      {/* One line: a long name is cut short, so what it was and Undo always show. */}
      <span className="undo-text">
        <span className="undo-what">
          {change.what} {row?.name ?? change.name}
        </span>
        <span className="undo-was"> · was {change.before}</span>
      </span>
      <button
        type="button"
        onClick={() => {
          // Undo is a command like any other: it syncs, and is decided again on rebase. It
          // counts back, so what other devices counted meanwhile stays (undo.ts).
          const { id, before, after } = change;
          last.set(undefined);
          void run(id, undoCommands(before, after));
          // This button goes with the offer: focus goes to the counter it changed.
          focusWhenShown(
            () =>
              document.querySelector<HTMLElement>(
                `[data-counter="${CSS.escape(id)}"] [data-action="increment"]`,
              ) ?? document.getElementById('counter-name'),
          );
        }}
      >
        Undo
      </button>
    </div>
  );
}
