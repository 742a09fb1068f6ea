import { describe, expect, it } from 'vitest';
import type { SyncUpdate } from '../../core/engine-protocol.ts';
import { statusText } from '../../app/sync-words.ts';

const update = (part: Partial<SyncUpdate>): SyncUpdate => ({
  type: 'sync',
  state: 'synced',
  pending: 0,
  rejected: [],
  ...part,
});

describe('the sync status in words', () => {
  it('says "Synced" alone only when this space holds every counter the device shows', () => {
    expect(statusText(update({}))).toBe('Synced');
    expect(statusText(update({ waiting: 1 }))).toBe(
      'Synced · One counter waits for the space it came from (its early history is there) and is not in this space',
    );
    expect(statusText(update({ waiting: 3, state: 'syncing', pending: 2 }))).toMatch(
      /^2 changes pending · 3 counters wait for the space they came from .* not in this space$/,
    );
  });
});
