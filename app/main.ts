// The app's first script, kept small: it starts the engine (the SharedWorker loads its script
// and opens the database) before React and the UI are fetched and run, so the two overlap
// instead of one waiting for the other (docs/architecture.md, "Tabs and the engine").
import { boardViewName } from '../core/models/board/order.ts';
import { isCounterRow } from '../core/models/counter/row.ts';
import { counterViewName } from '../core/models/counter/view.ts';
import { tallyDbName } from '../browser/stored-reads.ts';
import { connectEngine } from './engine-client.ts';
import { readFirstScreenInPage } from './kept-screen.ts';
import { preloadLongList } from './long-list.ts';
import './styles.css';

// No engine, no service worker, no storage on an insecure origin: only the explanation.
const client = window.isSecureContext ? connectEngine() : undefined;
/** The list's first rows in this tab: the page's read of the kept first screen, or the engine's. */
let listed: Promise<void> | undefined;
if (client) {
  // The first screen's views are asked for now, while React loads: the engine sends them as soon
  // as its database is open, and the first render shows the list (app/engine-client.ts). Kept for
  // the tab's life, as the list itself is.
  let arrived!: () => void;
  listed = new Promise<void>((resolve) => (arrived = resolve));
  client.subscribe({ topic: 'view', view: counterViewName }, () => arrived());
  client.subscribe({ topic: 'view', view: boardViewName }, () => undefined);
  // And the first screen the engine kept, read here while its worker loads: the list shows
  // before the engine runs, which then sends the list as it is now.
  // It answers undefined for anything wrong, never an error.
  void readFirstScreenInPage(tallyDbName, counterViewName, isCounterRow).then((screen) => {
    if (screen) client.showFirstScreen(screen);
    // None kept (a first visit, a list changed since): React renders now; the list follows
    // from the engine, as it did before the page read it.
    else arrived();
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
 * React's first render waits for the page's read of the first screen and, where one is kept, for
 * the list's first rows (that screen, or the engine's rows if they come first), for a moment at most:
 * a render without the list and then one with it cost the start a render and a layout, and the
 * read's answers wait while the page's thread is busy rendering.
 */
const firstRowsWaitMs = 250;
const listedOrLate = Promise.race([
  listed,
  new Promise<void>((resolve) => setTimeout(resolve, firstRowsWaitMs)),
]);

import('./start.tsx')
  .then(async ({ start }) => {
    await listedOrLate;
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
