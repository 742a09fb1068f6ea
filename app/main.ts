import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { preloadLongList } from './CounterList.tsx';
import { connectEngine } from './engine-client.ts';
import { InsecureOrigin } from './InsecureOrigin.tsx';
import { registerServiceWorker, type UpdateOffer } from './pwa.ts';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

if (!window.isSecureContext) {
  // No engine, no service worker, no storage: only the explanation.
  root.render(<InsecureOrigin origin={location.origin} />);
} else {
  const client = connectEngine();
  preloadLongList();
  // An update offer can come before React has rendered: keep the latest for the App.
  const updates = {
    offer: undefined as UpdateOffer | undefined,
    listener: undefined as ((offer: UpdateOffer) => void) | undefined,
  };
  registerServiceWorker({
    onUpdate: (offer) => {
      updates.offer = offer;
      updates.listener?.(offer);
    },
    beforeReload: () => client.whenIdle(),
  });
  // For end-to-end tests and the benchmark: the same client the UI uses, nothing more.
  (globalThis as { tally?: unknown }).tally = client;

  root.render(
    <StrictMode>
      <App client={client} updates={updates} />
    </StrictMode>,
  );
}
