// The app's first script, kept small: it starts the engine (the SharedWorker loads its script
// and opens the database) before React and the UI are fetched and run, so the two overlap
// instead of one waiting for the other (docs/architecture.md, "Tabs and the engine").
import { boardViewName } from '../core/models/board/order.ts';
import type { FirstScreen } from '../core/first-screen.ts';
import { isCounterRow } from '../core/models/counter/row.ts';
import { counterViewName } from '../core/models/counter/view.ts';
import { tallyDbName } from '../browser/stored-reads.ts';
import { connectEngine } from './engine-client.ts';
import { holdPresses, paintKeptScreen } from './kept-paint.ts';
import { readFirstScreenInPage } from './kept-screen.ts';
import { loadGrid, preloadLongList, virtualFrom } from './long-list.ts';
import './styles.css';

// No engine, no service worker, no storage on an insecure origin: only the explanation.
const client = window.isSecureContext ? connectEngine() : undefined;
/** The page's read of the kept first screen has answered (and, with a screen, drawn it). */
let listed: Promise<void> | undefined;
/** The page drew the kept first screen itself (app/kept-paint.ts), and how long its list is. */
let painted: { readonly listed: number } | undefined;
/** React's script is being loaded: the page draws nothing of its own from then on. */
let uiStarted = false;
if (client) {
  // The first screen's views are asked for now, while React loads: the engine sends them as soon
  // as its database is open, and the first render shows the list (app/engine-client.ts). Kept for
  // the tab's life, as the list itself is.
  let arrived!: () => void;
  listed = new Promise<void>((resolve) => (arrived = resolve));
  client.subscribe({ topic: 'view', view: counterViewName }, () => undefined);
  client.subscribe({ topic: 'view', view: boardViewName }, () => undefined);
  /**
   * Shows a first screen the page read: in the tab's views, and drawn at once, before React's
   * script is even evaluated (app/kept-paint.ts), unless that is already under way (the wait
   * below ran out). Also in a tab whose engine is running already and sent its rows first (the
   * screen is still true: it is read only at the store's head): drawing a screen is quicker than
   * React's first render of the whole list, which then replaces it. Only where React's first
   * render will show a list: this screen, or the engine's rows (a leader tab's client shows no
   * screen until it is connected).
   */
  const showScreen = (screen: FirstScreen) => {
    const shown = client.showFirstScreen(screen);
    const root = document.getElementById('root');
    if (
      (shown || client.viewRows(counterViewName) !== undefined) &&
      !uiStarted &&
      root &&
      paintKeptScreen(root, screen)
    ) {
      holdPresses(root);
      painted = { listed: screen.listed };
    }
  };
  // And the first screen the engine kept, read here while its worker loads: the list shows
  // before the engine runs, which then sends the list as it is now.
  // It answers undefined for anything wrong, never an error.
  void readFirstScreenInPage(tallyDbName, counterViewName, isCounterRow).then((screen) => {
    try {
      if (screen) showScreen(screen);
    } finally {
      // None kept (a first visit, a list changed since), not drawn, or showing it failed: React
      // renders now; the list follows from the engine, as it did before the page read it.
      arrived();
    }
  });
  preloadLongList();
  // Out of sight (a phone's app switcher, a tab being closed): the engine writes now what it
  // otherwise writes after a moment of quiet, so the next start shows the list as it was left
  // even when the app was closed right after a count.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') client.keepForNextStart().catch(() => undefined);
  });
  // For end-to-end tests and the benchmark: the same client the UI uses, nothing more.
  (globalThis as { tally?: unknown }).tally = client;
}

/**
 * React's script is evaluated once the page's read of the first screen is answered (and a screen
 * it found drawn), for a moment at most: evaluating it and rendering take the page's thread for
 * some 60 ms, which the drawn list does not wait for, and a render without the list and then one
 * with it would cost a render and a layout. (Its files are fetched and compiled meanwhile: the
 * page lists them as module preloads.)
 */
const firstRowsWaitMs = 250;
const listedOrLate = Promise.race([
  listed,
  new Promise<void>((resolve) => setTimeout(resolve, firstRowsWaitMs)),
]);

/** After the browser has shown the drawn page (or a moment, where frames are not drawn). */
const afterPaint = () =>
  new Promise<void>((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 100);
  });

listedOrLate
  .then(async () => {
    uiStarted = true;
    if (painted) await afterPaint();
    const [{ start }] = await Promise.all([
      import('./start.tsx'),
      // The drawn long list is replaced by the grid at once, not by its loading placeholder.
      painted && painted.listed >= virtualFrom ? loadGrid() : undefined,
    ]);
    start(client);
  })
  .catch((error: unknown) => {
    // The UI's script could not be loaded (the network went away mid-update): say so in words.
    console.error('Tally: the app could not load', error);
    const message = document.createElement('p');
    message.setAttribute('role', 'alert');
    message.textContent = 'Tally could not load. Check your connection, then reload the page.';
    document.getElementById('root')?.replaceChildren(message);
  });
