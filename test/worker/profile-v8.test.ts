import { describe, expect, it } from 'vitest';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { listCounters, engineFixture } from '../helpers/engine.ts';
import { restoreProfile } from '../helpers/profiles.ts';

const open = engineFixture();
const space = '0NvQKcZx-kxd-K0SnGKhB8-g';
const milk = 'counter-c000milk';

describe('a profile the last build of schema v8 left (records of one event), opened by today’s', () => {
  it('keeps every counter, its base, what was left behind its appends, pending commands and sync', async () => {
    const name = `tally-profile-v8-${Math.random().toString(36).slice(2)}`;
    await restoreProfile('profile-v8.json', name);
    const engine = await open({ dbName: name, device: 'device-sim2' });
    expect(engine.damage).toEqual([]);
    // Rows as that build showed them, the last two commands' included: they were stored as
    // events, but their rows, heads and outbox entries were still behind the appends.
    const rows = [...(await listCounters(engine))]
      .map(({ id, name, value, archived, version }) => ({ id, name, value, archived, version }))
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(rows).toEqual([
      { id: 'counter-c0000own', name: 'Push-ups', value: 1, archived: undefined, version: 2 },
      { id: 'counter-c0000tea', name: 'Tea', value: 2, archived: true, version: 3 },
      { id: 'counter-c000late', name: 'Late', value: 0, archived: undefined, version: 1 },
      { id: milk, name: 'Milk', value: 154, archived: undefined, version: 153 },
      { id: 'counter-c000walk', name: 'Walk', value: 0, archived: true, version: 2 },
    ]);

    // Milk was joined from the server's snapshot at 151: its history starts there.
    const history = await engine.history(milk);
    expect(history.map(({ version, value }) => [version, value])).toEqual([
      [151, 150],
      [152, 149],
      [153, 154],
    ]);
    expect(await engine.isBased(milk)).toBe(true);

    // The two commands made offline are pending, in order, at the versions they were made at.
    const storage = new IndexedDBSyncStorage(engine);
    expect(await storage.pendingCount()).toBe(2);
    const { streams: push } = await storage.readPush();
    expect(
      push.map(({ stream, expectedVersion, events }) => [
        stream,
        expectedVersion,
        events.map((event) => event.type),
      ]),
    ).toEqual([
      [milk, 152, ['Incremented']],
      ['counter-c000late', 0, ['Created']],
    ]);
    expect(await storage.readSettings()).toMatchObject({ space });
    expect(await storage.readFeedCursor(space)).toBe('1796606310917-0');
    expect((await storage.readRejections()).map((r) => [r.stream, r.reason])).toEqual([
      ['counter-c0000tea', '“Tea” is archived: restore it to change it.'],
    ]);

    // And it goes on where the old one stopped: a command after the old records, in a batch.
    expect(await engine.execute(milk, { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 154,
    });
    expect(await storage.pendingCount()).toBe(3);
    expect(
      await engine.execute('counter-c000new1', { type: 'create', name: 'late' }),
    ).toMatchObject({ type: 'rejected', reason: 'There is already a counter named “late”.' });
    expect((await engine.history(milk)).map(({ value }) => value)).toEqual([150, 149, 154, 155]);
  });

  it('starts again the same after a restart: what it recovered was written once', async () => {
    const name = `tally-profile-v8-${Math.random().toString(36).slice(2)}`;
    await restoreProfile('profile-v8.json', name);
    const first = await open({ dbName: name, device: 'device-sim2' });
    const before = await listCounters(first);
    await first.stop();
    const again = await open({ dbName: name, device: 'device-sim2' });
    expect(await listCounters(again)).toEqual(before);
    expect(await new IndexedDBSyncStorage(again).pendingCount()).toBe(2);
    expect((await again.readAfter(0)).map(({ position }) => position)).toEqual([1, 2, 3, 5, 6, 7]);
  });
});
