import type { FirstScreen } from '../core/first-screen.ts';
import { maxNameLength, normalName } from '../core/models/counter/name.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import { gridGap, gridPlace, rowHeight, virtualFrom } from './long-list.ts';

/**
 * The kept first screen drawn by the page's first script, before React has loaded
 * (docs/architecture.md, "The first screen"): evaluating React and the UI and rendering them the
 * first time took some 60 ms of a start, all of it after the list was already read. This draws
 * the page as React's first render of that screen draws it (the same elements, classes and text,
 * so the same layout: React's first commit replaces it with no shift, which the end-to-end test
 * of the start holds it to), and nothing more: no handlers of its own. A press on it before React
 * is there is held and made on React's button once it is (`holdPresses`).
 *
 * No React and no schema library here: this is part of the page's first script.
 */

/** Marks the drawn page (for `holdPresses`, and for tests). */
export const paintedAttribute = 'data-kept-paint';

type Attributes = Readonly<Record<string, string | undefined>>;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A card as `CounterCard` renders a closed one (app/CounterCard.tsx). */
function card(
  row: CounterRow,
  position?: { readonly posinset: number; readonly setsize: number },
): HTMLElement {
  const { id, name, value } = row;
  const step = row.step ?? 1;
  const n = step > 1 ? step : 2;
  const atZero = value === 0;
  return element(
    position ? 'div' : 'li',
    {
      class: 'card',
      'data-counter': id,
      draggable: 'true',
      ...(position
        ? {
            role: 'listitem',
            'aria-posinset': String(position.posinset),
            'aria-setsize': String(position.setsize),
          }
        : {}),
    },
    element(
      'div',
      { class: 'card-main' },
      element('h2', { class: 'name' }, name),
      element(
        'output',
        { class: 'value', 'aria-label': `${name} count`, 'aria-live': 'polite' },
        String(value),
      ),
    ),
    element(
      'div',
      { class: 'actions' },
      element(
        'button',
        {
          type: 'button',
          class: 'round',
          'data-action': 'decrement',
          'aria-label': `Decrement ${name}`,
          disabled: atZero ? '' : undefined,
          'aria-describedby': atZero ? `${id}-at-zero` : undefined,
        },
        '−',
      ),
      element(
        'button',
        {
          type: 'button',
          class: 'round primary',
          'data-action': 'increment',
          'aria-label': `Increment ${name}`,
        },
        '+',
      ),
      element(
        'button',
        {
          type: 'button',
          class: 'round',
          'data-action': 'add',
          'aria-label': `Add ${n} to ${name}`,
        },
        `+${n}`,
      ),
      element(
        'span',
        { id: `${id}-at-zero`, class: 'visually-hidden' },
        `${name} is at zero: a count cannot go below it.`,
      ),
      element(
        'button',
        {
          type: 'button',
          class: 'more',
          'data-action': 'more',
          'aria-expanded': 'false',
          'aria-controls': `${id}-more`,
          'aria-label': `More for ${name}`,
        },
        element('span', { 'aria-hidden': 'true' }, '⋯'),
      ),
    ),
    element('div', { role: 'alert', class: 'card-alert alert-empty' }),
  );
}

/**
 * The long list's grid (app/VirtualGrid.tsx) as its first frame draws it: the rows on screen
 * only, one under the other as it measures them (every closed card is as tall as the first row),
 * the list as tall as the row height this device last measured makes it.
 */
function fillGrid(grid: HTMLElement, rows: readonly CounterRow[], listed: number): void {
  const { columns: across, top } = gridPlace(grid);
  const lines = Math.ceil(listed / across);
  const estimate = rowHeight();
  grid.style.height = `${Math.max(0, lines * estimate + (lines - 1) * gridGap)}px`;
  let pitch = estimate + gridGap;
  const first = Math.max(0, Math.floor((window.scrollY - top) / pitch));
  for (let line = first; line < lines; line++) {
    const start = (line - first) * pitch + first * (estimate + gridGap);
    if (top + start >= window.scrollY + window.innerHeight) break;
    const row = element('div', {
      'data-index': String(line),
      role: 'none',
      class: 'grid grid-row',
    });
    row.style.gridTemplateColumns = `repeat(${across}, minmax(0, 1fr))`;
    row.style.transform = `translateY(${start}px)`;
    for (let index = line * across; index < Math.min(listed, (line + 1) * across); index++) {
      const position = { posinset: index + 1, setsize: listed };
      const counter = rows[index];
      row.append(
        counter
          ? card(counter, position)
          : element(
              'div',
              {
                role: 'listitem',
                'aria-posinset': String(position.posinset),
                'aria-setsize': String(position.setsize),
                'aria-busy': 'true',
                class: 'card card-later',
              },
              element('span', { class: 'muted' }, 'Opening…'),
            ),
      );
    }
    grid.append(row);
    // Rounded, as the grid's virtualizer (@tanstack/virtual-core) rounds what it measures.
    if (line === first) pitch = Math.round(row.getBoundingClientRect().height) + gridGap;
  }
}

/**
 * The drawn long list's columns and place, while it is drawn: the virtual grid's first render
 * takes them (app/VirtualGrid.tsx), so React's first commit is the grid with its rows and its
 * height, not an empty one measured a moment later (the page would shrink under a person who
 * scrolled the drawing, and lose their place).
 */
export function drawnGrid(): { readonly columns: number; readonly top: number } | undefined {
  const grid = document.querySelector<HTMLElement>(`[${paintedAttribute}] .virtual-grid`);
  return grid ? gridPlace(grid) : undefined;
}

/**
 * Draws `screen` into `root` (empty: React has not rendered) as the app's first render shows it:
 * the header, sync still starting, the form to add a counter, and the list, busy (a press waits
 * for the engine). True if drawn.
 */
export function paintKeptScreen(root: HTMLElement, screen: FirstScreen): boolean {
  if (root.firstChild) return false;
  const rows = screen.rows.map((row) => row.value as CounterRow);
  const long = screen.listed >= virtualFrom;
  const online = navigator.onLine;
  const list = long
    ? element('div', {
        role: 'list',
        'aria-label': 'Counters',
        'aria-busy': 'true',
        class: 'virtual-grid',
      })
    : element(
        'ul',
        { class: 'grid', 'aria-label': 'Counters', 'aria-busy': 'true' },
        ...rows.map((row) => card(row)),
      );
  root.append(
    element(
      'div',
      { class: 'shell', [paintedAttribute]: '' },
      element(
        'header',
        { class: 'top' },
        element('h1', {}, element('span', { class: 'logo', 'aria-hidden': 'true' }, '▦'), ' Tally'),
        element(
          'span',
          { class: `pill ${online ? 'pill-on' : 'pill-off'}`, 'aria-label': 'Network status' },
          online ? 'Online' : 'Offline',
        ),
      ),
      element(
        'main',
        {},
        element(
          'section',
          { class: 'sync', 'aria-label': 'Sync' },
          element(
            'div',
            { class: 'sync-row' },
            element('span', { class: 'dot dot-off', 'aria-hidden': 'true' }),
            element(
              'span',
              { role: 'status', 'aria-label': 'Sync status', class: 'sync-status' },
              'Starting…',
            ),
            element(
              'button',
              { type: 'button', 'data-sync-start': 'true', disabled: '' },
              'Start syncing',
            ),
          ),
        ),
        element(
          'form',
          { class: 'add', novalidate: '' },
          element('label', { for: 'counter-name', class: 'visually-hidden' }, 'Counter name'),
          // What is typed here goes to React's field, which takes focus from this one.
          element('input', {
            id: 'counter-name',
            placeholder: 'Name a new counter',
            autocomplete: 'off',
            'aria-describedby': 'counter-name-help',
          }),
          element('button', { type: 'submit' }, 'Add counter'),
          element(
            'span',
            { id: 'counter-name-help', class: 'small muted', 'aria-live': 'polite' },
            `0/${maxNameLength}`,
          ),
        ),
        element('div', { role: 'alert', class: 'alert alert-empty' }),
        list,
      ),
    ),
  );
  if (long) fillGrid(list, rows, screen.listed);
  return true;
}

/**
 * A control of the drawing, as React's is found again: a card's by its counter and what it does
 * (`data-action`: the name on it may have changed meanwhile, renamed in another tab), another by
 * its name, id or words.
 */
type ControlKey = {
  readonly counter: string | undefined;
  readonly action: string | undefined;
  readonly label: string | null;
  readonly id: string;
  readonly text: string;
};

/** The drawing's control `target` is in (`selector`: which controls), and its key. */
function keyOf(target: EventTarget | null, selector = 'button, input'): ControlKey | undefined {
  if (!(target instanceof HTMLElement) || !target.closest(`[${paintedAttribute}]`))
    return undefined;
  const control = target.closest<HTMLElement>(selector);
  if (!control) return undefined;
  return {
    // Two counters may have the same name: a press is on this counter's button.
    counter: control.closest<HTMLElement>('[data-counter]')?.dataset.counter,
    action: control.dataset.action,
    label: control.getAttribute('aria-label'),
    id: control.id,
    text: control.textContent ?? '',
  };
}

function find(root: HTMLElement, key: ControlKey): HTMLElement | null {
  const within = key.counter
    ? root.querySelector<HTMLElement>(`[data-counter="${CSS.escape(key.counter)}"]`)
    : root;
  if (!within) return null;
  if (key.action !== undefined) {
    const control = within.querySelector<HTMLElement>(`[data-action="${CSS.escape(key.action)}"]`);
    // The same words too: "+2" is not pressed as "+5", the counter's step changed meanwhile.
    return control?.textContent === key.text ? control : null;
  }
  if (key.label !== null)
    return within.querySelector<HTMLElement>(`[aria-label="${CSS.escape(key.label)}"]`);
  if (key.id) return within.querySelector<HTMLElement>(`#${CSS.escape(key.id)}`);
  return (
    [...within.querySelectorAll<HTMLElement>('button')].find(
      (button) => button.textContent === key.text,
    ) ?? null
  );
}

/** Sets a field React controls as typing would (React hears the input event). */
function typeInto(field: HTMLInputElement, value: string): void {
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set?.call(field, value);
  field.dispatchEvent(new Event('input', { bubbles: true }));
}

/**
 * Until React replaces the drawn page, a press on one of its buttons is held, and made on React's
 * button of the same counter and name once React has rendered (a press React's button no longer
 * takes, − at zero, is not made); keyboard focus moves to React's control of the same counter and
 * name, and what was typed into the name field to React's field. Nothing is submitted or followed
 * meanwhile. Stops by itself once the drawn page is gone.
 */
export function holdPresses(root: HTMLElement): void {
  // In the order they were made: a press on Add counter before or after typing is not the same.
  const held: ({ readonly press: ControlKey } | { readonly typed: string })[] = [];
  let focused: ControlKey | undefined;
  const drawn = () => root.querySelector(`[${paintedAttribute}]`);
  const onClick = (event: Event) => {
    if (!drawn()) return;
    event.preventDefault();
    event.stopPropagation();
    const key = keyOf(event.target, 'button');
    if (key) held.push({ press: key });
  };
  const onSubmit = (event: Event) => {
    if (drawn()) event.preventDefault();
  };
  const onFocus = (event: FocusEvent) => void (focused = keyOf(event.target));
  const onBlur = () =>
    // Focus left for nothing (a tap on the page), not taken by React's commit removing it.
    queueMicrotask(() => {
      if (drawn() && !root.contains(document.activeElement)) focused = undefined;
    });
  const field = () => root.querySelector<HTMLInputElement>('#counter-name');
  const onInput = (event: Event) => {
    const input = field();
    if (event.target !== input || !input) return;
    // Its count, as React's form shows it (AddCounterForm).
    const help = root.querySelector('#counter-name-help');
    if (help) {
      const length = normalName(input.value).length;
      help.textContent = `${length}/${maxNameLength}`;
      help.className = `small ${length > maxNameLength ? 'field-error' : 'muted'}`;
    }
    // What the field holds now stands for the keystrokes since the last press.
    const last = held.at(-1);
    if (last && 'typed' in last) held.pop();
    held.push({ typed: input.value });
  };
  const events = [
    ['click', onClick],
    ['submit', onSubmit],
    ['focusin', onFocus],
    ['focusout', onBlur],
    ['input', onInput],
  ] as const;
  for (const [type, listener] of events)
    root.addEventListener(type, listener as EventListener, true);
  const observer = new MutationObserver(() => {
    if (drawn()) return;
    observer.disconnect();
    for (const [type, listener] of events)
      root.removeEventListener(type, listener as EventListener, true);
    if (focused && (document.activeElement === null || document.activeElement === document.body))
      find(root, focused)?.focus({ preventScroll: true });
    for (const action of held.splice(0)) {
      if ('press' in action) find(root, action.press)?.click();
      else {
        const input = field();
        if (input) typeInto(input, action.typed);
      }
    }
  });
  observer.observe(root, { childList: true });
}
