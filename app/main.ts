// The app's first script, kept small: it starts the engine (the SharedWorker loads its script
// and opens the database) before React and the UI are fetched and run, so the two overlap
// instead of one waiting for the other (docs/architecture.md, "Tabs and the engine").
import { boardViewName } from '../core/models/board/order.ts';
import { counterViewName } from '../core/models/counter/view.ts';
import { connectEngine } from './engine-client.ts';
import { preloadLongList } from './long-list.ts';
import './styles.css';

// No engine, no service worker, no storage on an insecure origin: only the explanation.
const client = window.isSecureContext ? connectEngine() : undefined;
if (client) {
  // The first screen's views are asked for now, while React loads: the engine sends them as soon
  // as its database is open, and the first render shows the list (app/engine-client.ts). Kept for
  // the tab's life, as the list itself is.
  for (const view of [counterViewName, boardViewName])
    client.subscribe({ topic: 'view', view }, () => undefined);
  preloadLongList();
  // For end-to-end tests and the benchmark: the same client the UI uses, nothing more.
  (globalThis as { tally?: unknown }).tally = client;
}

import('./start.tsx')
  .then(({ start }) => start(client))
  .catch((error: unknown) => {
    // The UI's script could not be loaded (the network went away mid-update): say so in words.
    console.error('Tally: the app could not load', error);
    const message = document.createElement('p');
    message.setAttribute('role', 'alert');
    message.textContent = 'Tally could not load. Check your connection, then reload the page.';
    document.getElementById('root')?.replaceChildren(message);
  });
