import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { connectEngine } from './engine-client.ts';
import { registerServiceWorker, type UpdateOffer } from './pwa.ts';
import './styles.css';

const client = connectEngine();

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

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App client={client} updates={updates} />
  </StrictMode>,
);
