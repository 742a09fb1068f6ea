import { useEffect, useSyncExternalStore } from 'react';
import type { SyncRejection } from '../core/engine-protocol.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import { undoOf } from '../core/models/counter/undo.ts';
import type { Change, Run } from './App.tsx';
import { focusWhenShown } from './focus.ts';

/**
 * The person's last change to a counter, which Undo takes back: the newest of any kind (a count,
 * a rename, a step, an archive). Kept outside the page's state, so a count that offers it
 * renders the offer alone, not the page and every card with it.
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

/**
 * Where each counter's refusals show: its card's alert, while the card is on screen (each card
 * puts its own here). A refused Undo shows there, by the counter it was for, like the card's
 * own refusals, not at the top of the page.
 */
export class CardAlerts {
  private readonly shown = new Map<string, (reason: string | undefined) => void>();
  /** A card shows its counter's refusals from now on; the answer takes it back. */
  readonly show = (id: string, report: (reason: string | undefined) => void): (() => void) => {
    this.shown.set(id, report);
    return () => void (this.shown.get(id) === report && this.shown.delete(id));
  };
  readonly of = (id: string): ((reason: string | undefined) => void) | undefined =>
    this.shown.get(id);
}

/** What a change was, said after the counter's name ("· was 3"); an archive says nothing. */
const wasOf = (change: Change): string | undefined =>
  change.type === 'archive' ? undefined : String(change.before);

/** "+1 on Water · was 3", "Renamed Tea · was Water" or "Archived Water", with Undo. */
export function UndoOffer({
  last,
  run,
  alerts,
  onError,
  rejectionsOf,
  rows,
}: {
  last: LastChange;
  run: Run;
  /** Where a refused Undo shows: the counter's card. */
  alerts: CardAlerts;
  /** Where it shows when the counter has no card on screen (archived, or scrolled away). */
  onError: (message: string | undefined) => void;
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
  // An archive's offer stays while the counter is archived (its answer can come before the row
  // that shows it archived), and goes once it is back from elsewhere, after the archive.
  const gone =
    change !== undefined &&
    rows !== undefined &&
    (row === undefined ||
      (change.type === 'archive'
        ? !row.archived && row.updatedAt > change.at
        : (row.archived ?? false)));
  useEffect(() => {
    if (!change) return;
    if (gone || rejectionsOf.get(change.id)?.some((r) => r.at >= change.at)) last.set(undefined);
  }, [change, gone, rejectionsOf, last]);
  if (!change || gone) return null;
  const was = wasOf(change);
  return (
    <div className="undo" role="status" aria-label="Last change">
      {/* One line: a long name is cut short, so what it was and Undo always show. */}
      <span className="undo-text">
        <span className="undo-what">
          {change.what} {row?.name ?? change.name}
          {change.tail === undefined ? '' : ` ${change.tail}`}
        </span>
        {was !== undefined && (
          // A name it had is cut short too; a number never is.
          <span className={change.type === 'rename' ? 'undo-was undo-was-name' : 'undo-was'}>
            {' '}
            · was {was}
          </span>
        )}
      </span>
      <button
        type="button"
        onClick={() => {
          // Undo is a command like any other: it syncs, and is decided again on rebase. It
          // counts back, so what other devices counted meanwhile stays (undo.ts). Refused (the
          // counter changed elsewhere meanwhile), it says so on the counter's card.
          const { id, type } = change;
          last.set(undefined);
          void run(id, undoOf(change), (reason) => (alerts.of(id) ?? onError)(reason));
          // This button goes with the offer: focus goes to the counter it changed (back in the
          // list, after an archive is undone).
          focusWhenShown(
            () =>
              document.querySelector<HTMLElement>(
                `[data-counter="${CSS.escape(id)}"] [data-action="increment"]`,
              ) ??
              // A restored counter's card is not there yet: focus waits for it.
              (type === 'archive' ? undefined : document.getElementById('counter-name')),
          );
        }}
      >
        Undo
      </button>
    </div>
  );
}
