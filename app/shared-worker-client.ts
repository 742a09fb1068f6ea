import { proxy, wrap } from 'comlink';
import type { EngineApi } from '../core/engine-protocol.ts';
import { clientOver, type EngineClient } from './engine-client.ts';

/** Every tab of the profile connects to the one SharedWorker and its one engine. */
export function connectSharedWorker(): EngineClient {
  const worker = new SharedWorker(new URL('../worker/shared-worker.ts', import.meta.url), {
    type: 'module',
    name: 'tally-engine',
  });
  const remote = wrap<EngineApi>(worker.port);
  return clientOver('shared-worker', {
    call: remote,
    subscribe(request, onUpdate) {
      const callback = proxy(onUpdate);
      let ended = false;
      const id = remote.subscribe(request, callback);
      id.catch((error: unknown) => console.error('Tally: subscription failed', error));
      return () => {
        if (ended) return;
        ended = true;
        // Unsubscribing on the engine's side releases the callback proxy there.
        void id.then((n) => remote.unsubscribe(n)).catch(() => undefined);
      };
    },
  });
}
