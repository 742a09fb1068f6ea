/// <reference lib="webworker" />
// The leader tab's Worker (app/leader-client.ts) runs the same engine script as the
// SharedWorker: this file only loads it, so the engine is built, downloaded and cached once.
// Vite gives the URL of the SharedWorker's own chunk (the same build of worker/shared-worker.ts).
import engine from './shared-worker.ts?sharedworker&url';

declare const self: DedicatedWorkerGlobalScope;

// The leader's first calls may arrive while the engine script loads: hold them, then hand them
// to it in order once it listens.
const held: MessageEvent[] = [];
const hold = (event: MessageEvent) => held.push(event);
self.addEventListener('message', hold);

void import(/* @vite-ignore */ engine).then(() => {
  self.removeEventListener('message', hold);
  for (const event of held.splice(0))
    self.dispatchEvent(new MessageEvent('message', { data: event.data, ports: [...event.ports] }));
});
