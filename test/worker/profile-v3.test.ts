import { describe, expect, it } from 'vitest';
import { counter, type CounterEvent } from '../../core/models/counter/decider.ts';
import type { EventEnvelope } from '../../core/envelope.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { listCounters, engineFixture } from '../helpers/engine.ts';
import { restoreProfile } from '../helpers/profiles.ts';

const open = engineFixture();

describe('a profile made by the previous build (schema v3)', () => {
  it('opens with every counter, value, history line, snapshot and pending command intact', async () => {
    const name = `tally-profile-v3-${Math.random().toString(36).slice(2)}`;
    const dump = await restoreProfile('profile-v3.json', name);
    const engine = await open({ dbName: name, device: 'device-profile-v3' });
    expect(engine.damage).toEqual([]);

    const rows = [...(await listCounters(engine))].sort((a, b) => a.id.localeCompare(b.id));
    expect(rows.map(({ id, name, value, version }) => ({ id, name, value, version }))).toEqual([
      { id: 'counter-milk0000001', name: 'Milk', value: 149, version: 152 },
      { id: 'counter-pending0003', name: 'Push-ups', value: 1, version: 2 },
      { id: 'counter-tea00000002', name: 'Green tea', value: 2, version: 4 },
    ]);

    // Every history line, folded by the model, matches the events the old build stored.
    const milk = await engine.history('counter-milk0000001');
    expect(milk).toHaveLength(152);
    expect(milk.map((line) => line.value)).toEqual([
      0,
      ...Array.from({ length: 150 }, (_, i) => i + 1),
      149,
    ]);
    const oldEvents = dump.stores.events!.records as (EventEnvelope<CounterEvent> & {
      position: number;
    })[];
    expect(milk.map((line) => line.version)).toEqual(
      oldEvents.filter((e) => e.stream === 'counter-milk0000001').map((e) => e.version),
    );

    // The snapshot the old build wrote is used, and agrees with a full replay.
    const loaded = await engine.store.load('counter-milk0000001', {
      model: counter.name,
      modelVersion: counter.stateVersion,
    });
    expect(loaded.snapshot?.version).toBe(100);
    expect(loaded.events).toHaveLength(52);

    // Pending commands, sync settings, the feed cursor and the rejection are all still there.
    const storage = new IndexedDBSyncStorage(engine);
    expect(await storage.pendingCount()).toBe(155);
    expect(await storage.readSettings()).toMatchObject({ space: 'space-profile-v3-0001' });
    expect(await storage.readFeedCursor('space-profile-v3-0001')).toBe('1764600000000-3');
    expect((await storage.readRejections()).map((r) => r.commandId)).toEqual([
      'cmd-old-rejected-1',
    ]);
    const { streams: push } = await storage.readPush();
    expect(
      push.map(({ stream, expectedVersion, events }) => [stream, expectedVersion, events.length]),
    ).toEqual([
      ['counter-milk0000001', 0, 152],
      ['counter-tea00000002', 3, 1],
      ['counter-pending0003', 0, 2],
    ]);

    // And the engine goes on where the old one stopped.
    expect(await engine.execute('counter-milk0000001', { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 153,
    });
    // Names stay unique against the counters the old build made (the rules start from rows).
    expect(
      await engine.execute('counter-new00000004', { type: 'create', name: 'milk' }),
    ).toMatchObject({ type: 'rejected', reason: 'There is already a counter named “milk”.' });
  });
});
