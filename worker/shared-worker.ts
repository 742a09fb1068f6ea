/// <reference lib="webworker" />
import '../browser/zod-jitless.ts';
import { expose } from 'comlink';
import { installErrorTransfer } from '../browser/comlink-errors.ts';
import { EngineHost } from './engine-host.ts';
import { tallyDbName } from '../browser/stored-reads.ts';

/**
 * The engine's one script, for both kinds of worker (docs/architecture.md, "Tabs and the
 * engine"): as the SharedWorker every tab connects to, and, without SharedWorker, as the leader
 * tab's dedicated Worker (worker/dedicated-worker.ts loads this same file), so a first visit
 * downloads and precaches the engine once.
 */
declare const self: SharedWorkerGlobalScope | DedicatedWorkerGlobalScope;

installErrorTransfer();

if ('onconnect' in self) {
  const scope = self;
  // One engine per browser profile: every tab that connects shares this host.
  const host = new EngineHost({
    dbName: tallyDbName,
    build: import.meta.env.VITE_TALLY_BUILD,
    host: 'shared-worker',
  });
  scope.onconnect = (event) => {
    const port = event.ports[0];
    if (!port) return;
    const session = host.session();
    // Chromium fires `close` when the tab on the other end goes away.
    port.addEventListener('close', () => session.end());
    expose(session, port);
  };
} else {
  // Without SharedWorker the leader tab runs the engine here; the writer lock still guards it.
  // One tab (the leader) talks to it; its session lives as long as the worker.
  expose(
    new EngineHost({
      dbName: tallyDbName,
      build: import.meta.env.VITE_TALLY_BUILD,
      host: 'leader-worker',
    }).session(),
    self,
  );
}
