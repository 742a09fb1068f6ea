import { CardAlert } from './CardAlert.tsx';
import {
  lazy,
  memo,
  Suspense,
  useCallback,
  useLayoutEffect,
  useRef,
  useState,
  type DragEvent,
  type FormEvent,
} from 'react';
import type { SyncRejection } from '../core/engine-protocol.ts';
import { maxStep, maxValue } from '../core/models/counter/limits.ts';
import { mergeCommands, maxMergeSteps, renamedFrom } from '../core/models/counter/merge.ts';
import { maxNameLength, nameProblem, normalName } from '../core/models/counter/name.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import type { Change, Move, Run } from './App.tsx';
import type { EngineClient } from './engine-client.ts';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { focusWhenShown } from './focus.ts';
import type { CardAlerts } from './UndoOffer.tsx';
import { useRow, useRowField, type RowWatch } from './use-engine.ts';

// The history and its chart load when a person first opens one.
const HistoryPanel = lazy(() =>
  import('./HistoryPanel.tsx').then((module) => ({ default: module.HistoryPanel })),
);

const DRAG_TYPE = 'application/x-tally-counter';

/** A whole number typed into a field, or a sentence saying what is wrong with it. */
function wholeNumber(text: string, least: number, most: number, what: string): number | string {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed))
    return `${what} must be a whole number from ${least} to ${most.toLocaleString('en')}.`;
  const n = Number(trimmed);
  if (n < least || n > most)
    return `${what} must be from ${least} to ${most.toLocaleString('en')}.`;
  return n;
}

type CardProps = {
  /** The row as the list was rendered with it: the card shows its newer versions by itself. */
  row: CounterRow;
  /** The list's rows, watched: a count renders this card alone. */
  watch: RowWatch;
  run: Run;
  /** Told of each change to the counter (value, name, step, archive): the page offers Undo. */
  onChange: (change: Change | undefined) => void;
  /**
   * The listed (not archived) counter of a name, any letter case: a counter renamed apart by sync
   * ("Water (2)") offers to merge into it.
   */
  findNamed: (name: string) => CounterRow | undefined;
  /** Why a merge cannot be made now (this device not synced), or undefined when it can. */
  mayMerge: () => string | undefined;
  /** Where this card puts its alert, for a refused Undo of its counter to show in it. */
  alerts: CardAlerts;
  move: Move;
  first: boolean;
  last: boolean;
  client: EngineClient;
  /** This counter's commands that did not survive sync, shown here, where they happened. */
  rejections: readonly SyncRejection[];
  onDismiss: (commandId: string) => void;
  /** In the virtual grid: the card's place in the whole list (CounterList.tsx). */
  position?: { readonly posinset: number; readonly setsize: number };
};

function CounterCardView({
  row: listed,
  watch,
  run,
  onChange,
  findNamed,
  mayMerge,
  alerts,
  move,
  first,
  last,
  client,
  rejections,
  onDismiss,
  position,
}: CardProps) {
  const [showMore, setShowMore] = useState(false);
  // A count renders the number alone (`CountValue`): the card renders again for its value only
  // when it reaches or leaves zero (− and Reset are off at zero), or while More is open (its
  // field shows the value).
  const row = useRow(watch, listed.id, listed, showMore ? undefined : sameButCount);
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState(row.name);
  const [showHistory, setShowHistory] = useState(false);
  const [problem, showProblem] = useState<string>();
  // Told of every command's outcome: a success with nothing wrong shown changes nothing and
  // renders nothing (React would render the card once more to find that out, after each count).
  const shownProblem = useRef<string | undefined>(undefined);
  const setProblem = useCallback((reason: string | undefined) => {
    if (reason === shownProblem.current) return;
    shownProblem.current = reason;
    showProblem(reason);
  }, []);
  const { id, name, value } = row;
  // A refused Undo of this counter shows here, while the card is on screen.
  useLayoutEffect(() => alerts.show(id, setProblem), [alerts, id, setProblem]);
  // A list item of the plain list, or of the virtual grid's (whose rows are no elements of it).
  const Item = position ? 'div' : 'li';
  const itemProps = position
    ? { role: 'listitem', 'aria-posinset': position.posinset, 'aria-setsize': position.setsize }
    : {};
  const step = row.step ?? 1;

  /** Moving re-orders the list; keyboard focus stays with the counter that moved. */
  const moveAndKeepFocus = async (direction: 'up' | 'down') => {
    const place = () =>
      [...document.querySelectorAll<HTMLElement>('[data-counter]')].findIndex(
        (card) => card.dataset.counter === id,
      );
    const before = place();
    if (!(await move(id, direction))) return;
    // Once the list shows the new order (the move's answer can come before it).
    focusWhenShown(() => {
      if (place() === before) return undefined;
      const card = document.querySelector(`[data-counter="${CSS.escape(id)}"]`);
      const same = card?.querySelector<HTMLButtonElement>(`[data-move="${direction}"]`);
      const other = card?.querySelector<HTMLButtonElement>('[data-move]:not(:disabled)');
      return same && !same.disabled ? same : other;
    });
  };

  /** Where a pointer can drag, a card is dropped on another to take its place. */
  const drag = {
    // Not while its fields are open: dragging to select their text would move the card.
    draggable: !renaming && !showMore,
    onDragStart: (event: DragEvent) => event.dataTransfer.setData(DRAG_TYPE, id),
    onDragOver: (event: DragEvent) => {
      if (event.dataTransfer.types.includes(DRAG_TYPE)) event.preventDefault();
    },
    onDrop: (event: DragEvent) => {
      const dragged = event.dataTransfer.getData(DRAG_TYPE);
      if (!dragged || dragged === id) return;
      event.preventDefault();
      void move(dragged, { to: id });
    },
  };

  /**
   * Runs a change to the value, from the value as it is at the press (`after` of it); once
   * accepted, it can be undone. A refusal shows here. A press that takes the value to zero turns
   * off − and Reset: if it was one of them, keyboard focus goes to + (not to the page).
   */
  const change = async (
    what: string,
    after: number | ((now: number) => number),
    commands: object | readonly object[],
    tail?: string,
  ) => {
    const pressed = document.activeElement;
    const before = (watch.row(id) as CounterRow | undefined)?.value ?? value;
    after = typeof after === 'number' ? after : after(before);
    if (!(await run(id, commands, setProblem))) return;
    onChange({
      type: 'value',
      id,
      name,
      what,
      ...(tail === undefined ? {} : { tail }),
      before,
      after,
      at: Date.now(),
    });
    if (after === 0 && pressed instanceof HTMLButtonElement && item.current?.contains(pressed))
      focusWhenShown(() => {
        // Not until the card shows zero, with the button off.
        if (!pressed.disabled) return undefined;
        // Focus went elsewhere meanwhile: it stays there.
        const now = document.activeElement;
        if (now !== pressed && now !== document.body && now instanceof HTMLElement) return now;
        return item.current?.querySelector<HTMLElement>('[data-action="increment"]');
      });
  };
  const item = useRef<HTMLElement | null>(null);
  // A plain list's item or a grid's: one ref for either element.
  const setItem = useCallback((element: HTMLElement | null) => void (item.current = element), []);
  /** Set while this card archives its counter: the Archive button sends focus on itself. */
  const archiving = useRef(false);
  /**
   * Moves this counter's count into `target` and archives this one, after asking (issue 12). Two
   * aggregates, no transaction across them (docs/architecture.md, "Sync rules"): this one is
   * reset and archived first, in one batch — the lock: one archived already (merged elsewhere)
   * refuses it, and restoring it later brings back 0, not the count a second time. Then the count
   * is added to `target` by counting up (`mergeCommands`), so what another device counts there
   * meanwhile adds to it; if that fails, this one is restored with its count. Only while this
   * device is synced (or in no space): two devices merging the same pair offline would each add
   * the count.
   */
  const merge = async (target: CounterRow) => {
    const notNow = mayMerge();
    if (notNow) return setProblem(notNow);
    const now = (watch.row(id) as CounterRow | undefined)?.value ?? value;
    const commands = mergeCommands(now);
    if (!commands)
      return setProblem(
        `“${name}” counts more than a merge moves (${(maxStep * maxMergeSteps).toLocaleString('en')}): set “${target.name}” by hand, then archive this one.`,
      );
    const asked =
      now > 0
        ? `Add the ${now.toLocaleString('en')} counted in “${name}” to “${target.name}”, and archive “${name}” at 0?`
        : `Archive “${name}”? It has nothing to add to “${target.name}”.`;
    if (!confirm(asked)) return;
    archiving.current = true;
    const lock = now > 0 ? [{ type: 'reset' }, { type: 'archive' }] : [{ type: 'archive' }];
    if (!(await run(id, lock, setProblem))) return void (archiving.current = false);
    // An Undo of an earlier change would no longer be what the person last did.
    onChange(undefined);
    if (commands.length > 0 && !(await run(target.id, commands))) {
      // Not added (the other counter archived or full meanwhile): this one comes back whole.
      // The card is gone meanwhile: what failed is told at the top of the page.
      await run(id, [{ type: 'restore' }, ...commands]);
      return;
    }
    // This card is gone: focus goes to the counter it went into.
    focusWhenShown(() =>
      document.querySelector<HTMLElement>(
        `[data-counter="${CSS.escape(target.id)}"] [data-action="increment"]`,
      ),
    );
  };
  // The card goes with focus in it when its counter is archived or removed from another tab or
  // device: focus goes to the same control of the next card (or the one before), not to the
  // page. Run before React takes the card out of the page, while it still holds focus. (A card
  // a virtual grid scrolls away is still listed, and takes nothing with it.)
  useLayoutEffect(() => {
    const card = item.current;
    return () => {
      if (!card?.contains(document.activeElement) || archiving.current) return;
      const now = watch.row(id) as CounterRow | undefined;
      if (now && !now.archived) return;
      const action = document.activeElement?.closest<HTMLElement>('[data-action]')?.dataset.action;
      const cards = [...document.querySelectorAll<HTMLElement>('[data-counter]')];
      const at = cards.indexOf(card);
      const next = (cards[at + 1] ?? cards[at - 1])?.dataset.counter;
      focusWhenShown(() => {
        if (next === undefined) return document.getElementById('counter-name');
        const other = document.querySelector(`[data-counter="${CSS.escape(next)}"]`);
        const same = other?.querySelector<HTMLButtonElement>(`[data-action="${action}"]`);
        return same && !same.disabled ? same : other?.querySelector<HTMLElement>('button.more');
      });
    };
  }, [watch, id]);
  const moreButton = useRef<HTMLButtonElement>(null);
  /** Closes the More panel (Escape in it); focus goes back to its button. */
  const closeMore = () => {
    setShowMore(false);
    focusWhenShown(() => moreButton.current);
  };
  const renameButton = useRef<HTMLButtonElement>(null);
  /** Closes the rename form; focus goes back to the Rename button, not to the page. */
  const stopRenaming = () => {
    setRenaming(false);
    setProblem(undefined);
    focusWhenShown(() => renameButton.current);
  };

  const rename = async (event: FormEvent) => {
    event.preventDefault();
    const wrong = nameProblem(normalName(draft), draft);
    setProblem(wrong);
    if (wrong) return;
    if (!(await run(id, { type: 'rename', name: draft }, setProblem))) return;
    stopRenaming();
    // Kept as it was if it was the same name: nothing to undo.
    if (normalName(draft) !== name)
      onChange({ type: 'rename', id, name, what: 'Renamed', before: name, at: Date.now() });
  };

  const [valueDraft, setValueDraft] = useState('');
  const setValue = async (event: FormEvent) => {
    event.preventDefault();
    const typed = wholeNumber(valueDraft, 0, maxValue, 'A value');
    if (typeof typed === 'string') return setProblem(typed);
    await change('Set', typed, { type: 'set', value: typed }, `to ${typed.toLocaleString('en')}`);
    setValueDraft('');
  };
  const [stepDraft, setStepDraft] = useState('');
  const setStep = async (event: FormEvent) => {
    event.preventDefault();
    const typed = wholeNumber(stepDraft, 1, maxStep, 'A step');
    if (typeof typed === 'string') return setProblem(typed);
    if (!(await run(id, { type: 'setStep', step: typed }, setProblem))) return;
    setStepDraft('');
    if (typed !== step)
      onChange({
        type: 'setStep',
        id,
        name,
        what: `Step set to ${typed} on`,
        before: step,
        at: Date.now(),
      });
  };

  // The +N button: the counter's step, or, with no step of its own, the seed's atomic
  // "increment twice" (one batch of two commands).
  const plus =
    step > 1
      ? { n: step, commands: { type: 'increment', amount: step } }
      : { n: 2, commands: [{ type: 'increment' }, { type: 'increment' }] };

  // Only while More is open: a name's lookup reads the list.
  const mergeFrom = showMore ? renamedFrom(name) : undefined;
  const found = mergeFrom === undefined ? undefined : findNamed(mergeFrom);
  const mergeTarget = found && found.id !== id ? found : undefined;
  return (
    <Item ref={setItem} className="card" data-counter={id} {...drag} {...itemProps}>
      <div className="card-main">
        {renaming ? (
          <>
            {/* The card's heading stays while its name is a field: headings below it (its
                history's days) keep their place in the page's outline. */}
            <h2 className="visually-hidden">{name}</h2>
            <form
              className="rename"
              noValidate
              onSubmit={rename}
              onKeyDown={(e) => e.key === 'Escape' && stopRenaming()}
            >
              <input
                aria-label={`New name for ${name}`}
                value={draft}
                onChange={(event) => setDraft(event.target.value)}
                aria-invalid={problem ? true : undefined}
                aria-describedby={`${id}-name-help`}
                autoFocus
              />
              <button type="submit">Save</button>
              <button type="button" className="link" onClick={stopRenaming}>
                Cancel
              </button>
              <span id={`${id}-name-help`} className="small muted" aria-live="polite">
                {`${normalName(draft).length}/${maxNameLength}`}
              </span>
            </form>
          </>
        ) : (
          <h2 className="name">{name}</h2>
        )}
        <CountValue watch={watch} row={row} />
      </div>
      <div className="actions">
        <button
          type="button"
          className="round"
          data-action="decrement"
          aria-label={`Decrement ${name}`}
          disabled={value === 0}
          aria-describedby={value === 0 ? `${id}-at-zero` : undefined}
          onClick={() => void change('−1 on', (now) => now - 1, { type: 'decrement' })}
        >
          −
        </button>
        <button
          type="button"
          className="round primary"
          data-action="increment"
          aria-label={`Increment ${name}`}
          onClick={() => void change('+1 on', (now) => now + 1, { type: 'increment' })}
        >
          +
        </button>
        <button
          type="button"
          className="round"
          data-action="add"
          aria-label={`Add ${plus.n} to ${name}`}
          onClick={() => void change(`+${plus.n} on`, (now) => now + plus.n, plus.commands)}
        >
          +{plus.n}
        </button>
        <span id={`${id}-at-zero`} className="visually-hidden">
          {`${name} is at zero: a count cannot go below it.`}
        </span>
        <button
          ref={moreButton}
          type="button"
          className="more"
          data-action="more"
          aria-expanded={showMore}
          aria-controls={`${id}-more`}
          aria-label={`More for ${name}`}
          onClick={() => setShowMore((shown) => !shown)}
        >
          <span aria-hidden="true">⋯</span>
        </button>
      </div>
      <CardAlert problem={problem} about={name} onDismiss={() => setProblem(undefined)} />
      {rejections.length > 0 && (
        <ul className="card-rejections" aria-label={`Not applied to ${name} after sync`}>
          {rejections.map((r) => (
            <li key={r.commandId}>
              <span>
                Not applied after sync: {r.reason}
                {r.later
                  ? ` ${r.later === 1 ? 'One later change' : `${r.later} later changes`} to it could not be made either.`
                  : null}
              </span>
              <button
                type="button"
                className="link"
                aria-label={`Dismiss: ${r.reason}`}
                onClick={() => onDismiss(r.commandId)}
              >
                Dismiss
              </button>
            </li>
          ))}
        </ul>
      )}
      {showMore && (
        // Escape closes it, as it closes the rename form.
        <div
          className="more-panel"
          id={`${id}-more`}
          onKeyDown={(event) => event.key === 'Escape' && closeMore()}
        >
          <div className="more-row">
            <span className="order">
              <button
                type="button"
                className="link"
                data-move="up"
                aria-label={`Move ${name} up`}
                disabled={first}
                onClick={() => void moveAndKeepFocus('up')}
              >
                ↑
              </button>
              <button
                type="button"
                className="link"
                data-move="down"
                aria-label={`Move ${name} down`}
                disabled={last}
                onClick={() => void moveAndKeepFocus('down')}
              >
                ↓
              </button>
            </span>
            <button
              type="button"
              className="link"
              aria-label={`Reset ${name}`}
              disabled={value === 0}
              onClick={() => void change('Reset', 0, { type: 'reset' })}
            >
              Reset
            </button>
            <button
              ref={renameButton}
              type="button"
              className="link"
              aria-label={`Rename ${name}`}
              onClick={() => {
                setDraft(name);
                setRenaming(true);
              }}
            >
              Rename
            </button>
            <button
              type="button"
              className="link"
              aria-expanded={showHistory}
              aria-label={`History of ${name}`}
              onClick={() => setShowHistory((shown) => !shown)}
            >
              {/* The visible word stays inside the accessible name (WCAG 2.5.3). */}
              History <span aria-hidden="true">{showHistory ? '▴' : '▾'}</span>
            </button>
            <button
              type="button"
              className="link"
              aria-label={`Archive ${name}`}
              onClick={async () => {
                archiving.current = true;
                if (!(await run(id, { type: 'archive' }, setProblem)))
                  return void (archiving.current = false);
                onChange({ type: 'archive', id, name, what: 'Archived', at: Date.now() });
                // The card is gone: focus goes where the counter went, the archive.
                focusWhenShown(() =>
                  document.querySelector<HTMLButtonElement>('[data-archive-toggle]'),
                );
              }}
            >
              Archive
            </button>
            {mergeTarget && (
              <button
                type="button"
                className="link"
                aria-label={`Merge ${name} into ${mergeTarget.name}`}
                onClick={() => void merge(mergeTarget)}
              >
                Merge
              </button>
            )}
          </div>
          <form className="more-row" noValidate onSubmit={setValue}>
            <label>
              <span>Set value</span>
              <input
                inputMode="numeric"
                aria-label={`New value for ${name}`}
                placeholder={String(value)}
                value={valueDraft}
                onChange={(event) => setValueDraft(event.target.value)}
              />
            </label>
            <button type="submit" aria-label={`Set ${name}`}>
              Set
            </button>
          </form>
          <form className="more-row" noValidate onSubmit={setStep}>
            <label>
              <span>Step</span>
              <input
                inputMode="numeric"
                aria-label={`Step for ${name}`}
                placeholder={String(step)}
                value={stepDraft}
                onChange={(event) => setStepDraft(event.target.value)}
              />
            </label>
            <button type="submit" aria-label={`Save step for ${name}`}>
              Save step
            </button>
          </form>
        </div>
      )}
      {showHistory && (
        <ErrorBoundary what={`The history of ${name}`}>
          <Suspense fallback={<p className="muted small">Loading history…</p>}>
            <HistoryPanel client={client} stream={id} name={name} />
          </Suspense>
        </ErrorBoundary>
      )}
    </Item>
  );
}

/**
 * The number on a card, rendered by itself when it changes: a count renders this output, not
 * the card around it.
 */
function CountValue({ watch, row }: { watch: RowWatch; row: CounterRow }) {
  const value = useRowField(watch, row.id, row, valueOf);
  return (
    <output className="value" aria-label={`${row.name} count`} aria-live="polite">
      {value}
    </output>
  );
}

const valueOf = (row: CounterRow): number => row.value;

/**
 * Whether the card shows `now` as it shows `rendered`: they differ in the count alone (its value,
 * its version, when it changed), and both are at zero or both above it.
 */
function sameButCount(rendered: CounterRow, now: CounterRow): boolean {
  if ((rendered.value === 0) !== (now.value === 0)) return false;
  const keys = Object.keys(now) as (keyof CounterRow)[];
  if (keys.length !== Object.keys(rendered).length) return false;
  return keys.every(
    (key) =>
      key === 'value' || key === 'version' || key === 'updatedAt' || rendered[key] === now[key],
  );
}

/** The same card: every prop the same, the place in the list by value (a new object each render). */
function sameCard(a: CardProps, b: CardProps): boolean {
  const keys = Object.keys(a) as (keyof CardProps)[];
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (key !== 'position' && a[key] !== b[key]) return false;
  return (
    a.position?.posinset === b.position?.posinset && a.position?.setsize === b.position?.setsize
  );
}

/**
 * A counter's card, rendered again only when its own props change: a count re-renders the card
 * it changed, not every card on screen (a thousand-counter list re-rendered 33 cards a press).
 */
export const CounterCard = memo(CounterCardView, sameCard);
