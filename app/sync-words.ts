import type { SyncUpdate } from '../core/engine-protocol.ts';

/**
 * Whether sync waits out the server's request limits (a 429): the server answers, it only asks
 * the device to slow down (worker/sync-client.ts says so with the failure's code).
 */
export function rateLimited(sync: SyncUpdate): boolean {
  return sync.state === 'offline' && sync.lastErrorCode === 'too-many-requests';
}

/** Where sync stands, in words: the status line of the sync panel. */
export function statusText(sync: SyncUpdate | undefined): string {
  if (!sync) return 'Starting…';
  // Out of a space everything is "pending" for the next one: that is no news to a person.
  if (sync.state === 'off')
    return sync.lastError ? `Not syncing · ${sync.lastError}` : 'Not syncing';
  // Changes, not counters: one count is one change.
  const pending =
    sync.pending > 0 ? `${sync.pending} ${sync.pending === 1 ? 'change' : 'changes'} pending` : '';
  const word = rateLimited(sync)
    ? // Not "unreachable": the server answered; the sentence after this says why it waits.
      'Waiting'
    : sync.state === 'offline'
      ? // The network may be up while the sync server is not: say which.
        navigator.onLine
        ? 'Server unreachable'
        : 'Offline'
      : sync.state === 'syncing'
        ? 'Syncing…'
        : 'Synced';
  const parts = [sync.state === 'syncing' && pending ? pending : word];
  if (sync.state !== 'syncing' && pending) parts.push(pending);
  if (sync.lastError) parts.push(sync.lastError);
  if (sync.waiting)
    parts.push(
      sync.waiting === 1
        ? 'One counter waits for the space it came from (its early history is there) and is not in this space'
        : `${sync.waiting} counters wait for the space they came from (their early history is there) and are not in this space`,
    );
  return parts.join(' · ');
}
