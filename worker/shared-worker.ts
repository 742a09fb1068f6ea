/// <reference lib="webworker" />
import { expose } from 'comlink';
import { installErrorTransfer } from '../core/comlink-errors.ts';
import { EngineHost } from './engine-host.ts';

declare const self: SharedWorkerGlobalScope;

installErrorTransfer();

// One engine per browser profile: every tab that connects shares this host.
const host = new EngineHost({
  dbName: 'tally',
  build: import.meta.env.VITE_TALLY_BUILD,
  host: 'shared-worker',
});

self.onconnect = (event) => {
  const port = event.ports[0];
  if (!port) return;
  const session = host.session();
  // Chromium fires `close` when the tab on the other end goes away.
  port.addEventListener('close', () => session.end());
  expose(session, port);
};
