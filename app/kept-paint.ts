import type { FirstScreen } from '../core/first-screen.ts';
import { maxNameLength } from '../core/models/counter/name.ts';
import type { CounterRow } from '../core/models/counter/projections.ts';
import { columnsFor, gridGap, rowHeight, virtualFrom } from './long-list.ts';

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
          'aria-label': `Decrement ${name}`,
          disabled: atZero ? '' : undefined,
          'aria-describedby': atZero ? `${id}-at-zero` : undefined,
        },
        '−',
      ),
      element(
        'button',
        { type: 'button', class: 'round primary', 'aria-label': `Increment ${name}` },
        '+',
      ),
      element(
        'button',
        { type: 'button', class: 'round', 'aria-label': `Add ${n} to ${name}` },
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
  const across = columnsFor(grid.clientWidth);
  const top = grid.getBoundingClientRect().top + window.scrollY;
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
            element('button', { type: 'button', disabled: '' }, 'Start syncing'),
          ),
        ),
        element(
          'form',
          { class: 'add', novalidate: '' },
          element('label', { for: 'counter-name', class: 'visually-hidden' }, 'Counter name'),
          element('input', {
            id: 'counter-name',
            placeholder: 'Name a new counter',
            autocomplete: 'off',
            'aria-describedby': 'counter-name-help',
            // Typing waits for React's field, which takes focus from this one.
            readonly: '',
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
 * Until React replaces the drawn page, a press on one of its buttons is held, and made on React's
 * button of the same name once React has rendered; keyboard focus moves to React's element of the
 * same name. Nothing is submitted or followed meanwhile. Stops by itself once the drawn page is
 * gone.
 */
export function holdPresses(root: HTMLElement): void {
  const held: string[] = [];
  let focused: { readonly label: string | null; readonly id: string } | undefined;
  const drawn = () => root.querySelector(`[${paintedAttribute}]`);
  const nameOf = (target: EventTarget | null) =>
    target instanceof HTMLElement && target.closest(`[${paintedAttribute}]`)
      ? target.closest<HTMLElement>('button, input')
      : null;
  const onClick = (event: Event) => {
    if (!drawn()) return;
    event.preventDefault();
    event.stopPropagation();
    const label = nameOf(event.target)?.getAttribute('aria-label');
    if (label) held.push(label);
  };
  const onSubmit = (event: Event) => {
    if (drawn()) event.preventDefault();
  };
  const onFocus = (event: FocusEvent) => {
    const target = nameOf(event.target);
    focused = target ? { label: target.getAttribute('aria-label'), id: target.id } : undefined;
  };
  root.addEventListener('click', onClick, true);
  root.addEventListener('submit', onSubmit, true);
  root.addEventListener('focusin', onFocus, true);
  const observer = new MutationObserver(() => {
    if (drawn()) return;
    observer.disconnect();
    root.removeEventListener('click', onClick, true);
    root.removeEventListener('submit', onSubmit, true);
    root.removeEventListener('focusin', onFocus, true);
    const find = (label: string | null, id: string) =>
      label
        ? root.querySelector<HTMLElement>(`button[aria-label="${CSS.escape(label)}"]`)
        : id
          ? root.querySelector<HTMLElement>(`#${CSS.escape(id)}`)
          : null;
    if (focused && (document.activeElement === null || document.activeElement === document.body))
      find(focused.label, focused.id)?.focus();
    for (const label of held.splice(0)) find(label, '')?.click();
  });
  observer.observe(root, { childList: true });
}
