/**
 * Sync's code, for the engine host to load as one chunk once the views are served
 * (worker/engine-host.ts `start`): a third of the engine's script that showing the list does
 * not need.
 */
export { SyncManager } from './sync-manager.ts';
export { IndexedDBSyncStorage } from './sync-storage.ts';
