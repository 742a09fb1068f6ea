import { transfer, wrap } from 'comlink';
import type { EngineApi, EngineUpdate } from '../core/engine-protocol.ts';
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
      // The engine posts each update on a port of its own, and nothing goes back: a callback
      // proxy's every call is answered, a second message per update (per count on screen).
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = (event: MessageEvent<EngineUpdate>) => {
        try {
          onUpdate(event.data);
        } catch (error) {
          // The watcher's own failure: the subscription goes on.
          console.error('Tally: a subscription watcher failed', error);
        }
      };
      let ended = false;
      const id = remote.subscribe(request, transfer(port2, [port2]));
      id.catch((error: unknown) => {
        port1.close();
        console.error('Tally: subscription failed', error);
      });
      return () => {
        if (ended) return;
        ended = true;
        // Nothing more reaches the watcher from now; the engine's side closes its end.
        port1.close();
        void id.then((n) => remote.unsubscribe(n)).catch(() => undefined);
      };
    },
  });
}
