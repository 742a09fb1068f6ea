import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import type { EngineClient } from './engine-client.ts';
import { InsecureOrigin } from './InsecureOrigin.tsx';
import { registerServiceWorker, type UpdateOffer } from './pwa.ts';

/** Renders the app on the engine app/main.tsx started, or, without one, why there is none. */
export function start(client: EngineClient | undefined): void {
  const root = createRoot(document.getElementById('root')!);
  if (!client) {
    root.render(<InsecureOrigin origin={location.origin} />);
    return;
  }
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
  root.render(
    <StrictMode>
      <App client={client} updates={updates} />
    </StrictMode>,
  );
}
