import { useEffect, useSyncExternalStore } from 'react';
import type { SyncRejection } from '../core/engine-protocol.ts';
import { undoCommands } from '../core/models/counter/undo.ts';
import type { Change, Run } from './App.tsx';

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
}: {
  last: LastChange;
  run: Run;
  /** Each counter's commands that sync rejected. */
  rejectionsOf: ReadonlyMap<string, readonly SyncRejection[]>;
}) {
  const change = useSyncExternalStore(last.watch, last.get);
  // A change that sync then rejected is no change to undo: undoing it would count what nobody
  // counted. (Any rejection of that counter since the change takes the offer away.)
  useEffect(() => {
    if (change && rejectionsOf.get(change.id)?.some((r) => r.at >= change.at)) last.set(undefined);
  }, [change, rejectionsOf, last]);
  if (!change) return null;
  return (
    <div className="undo" role="status" aria-label="Last change">
      <span>
        {change.what} · was {change.before}
      </span>
      <button
        type="button"
        onClick={() => {
          // Undo is a command like any other: it syncs, and is decided again on rebase. It
          // counts back, so what other devices counted meanwhile stays (undo.ts).
          const { id, before, after } = change;
          last.set(undefined);
          void run(id, undoCommands(before, after));
        }}
      >
        Undo
      </button>
    </div>
  );
}
