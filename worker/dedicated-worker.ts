/// <reference lib="webworker" />
import { expose } from 'comlink';
import { installErrorTransfer } from '../core/comlink-errors.ts';
import { EngineHost } from './engine-host.ts';

installErrorTransfer();

// Without SharedWorker the leader tab runs the engine here; the writer lock still guards it.
expose(
  new EngineHost({
    dbName: 'tally',
    build: import.meta.env.VITE_TALLY_BUILD,
    host: 'leader-worker',
  }),
);
