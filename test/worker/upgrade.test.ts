import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { counterId, engineFixture, listCounters } from '../helpers/engine.ts';

const open = engineFixture();

describe('retried commands and the v3 schema', () => {
  it('finds the events a command wrote from the stream’s tail, after many others', async () => {
    const engine = await open();
    const id = counterId(1);
    await engine.execute(id, { type: 'create', name: 'Retry' });
    await engine.execute(id, [{ type: 'increment' }, { type: 'increment' }], 'cmd-the-one-0001');
    for (let i = 0; i < 50; i++) await engine.execute(id, { type: 'increment' });
    const found = await engine.eventsOfCommand(id, 'cmd-the-one-0001');
    expect(found.map((e) => [e.version, e.meta.command])).toEqual([
      [2, 'cmd-the-one-0001'],
      [3, 'cmd-the-one-0001'],
    ]);
    expect(await engine.eventsOfCommand(id, 'cmd-never-sent-01')).toEqual([]);
    expect(await engine.eventsOfCommand(counterId(2), 'cmd-the-one-0001')).toEqual([]);
  });

  it('upgrades a v2 database: drops the per-command index and keeps every event', async () => {
    const name = `tally-upgrade-${Math.random().toString(36).slice(2)}`;
    const v2 = await openDB(name, 2, {
      upgrade(db) {
        const events = db.createObjectStore('events', { keyPath: 'position' });
        events.createIndex('byStream', ['stream', 'version'], { unique: true });
        events.createIndex('byCommand', 'meta.command');
        db.createObjectStore('streams', { keyPath: 'stream' });
        db.createObjectStore('snapshots', { keyPath: 'stream' });
        db.createObjectStore('views', { keyPath: ['view', 'key'] }).createIndex('byView', 'view');
        db.createObjectStore('meta', { keyPath: 'key' });
        db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true }).createIndex(
          'byStream',
          'stream',
        );
        db.createObjectStore('rejections', { keyPath: 'commandId' });
      },
    });
    const id = counterId(3);
    await v2.put('events', {
      position: 1,
      id: 'evt-old-000000001',
      stream: id,
      version: 1,
      type: 'Created',
      data: { name: 'Old' },
      meta: { time: 1, device: 'device-old-0001', command: 'cmd-old-00000001', schema: 1 },
    });
    await v2.put('streams', { stream: id, version: 1, confirmed: 1 });
    await v2.put('meta', { key: 'head', position: 1 });

    await v2.put('views', {
      view: 'counters',
      key: id,
      value: { id, name: 'Old', value: 0, version: 1, createdAt: 1, updatedAt: 1 },
    });
    v2.close();

    const engine = await open({ dbName: name });
    expect([...engine.db.transaction('events').store.indexNames]).toEqual([
      'byStream',
      'byVersions',
    ]);
    // v8: a view's rows are read by a range of their keys, not through an index of their own.
    expect([...engine.db.transaction('views').store.indexNames]).toEqual([]);
    expect((await listCounters(engine)).map((row) => [row.id, row.value])).toEqual([[id, 0]]);
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 2,
    });
    expect((await engine.history(id)).map((h) => h.value)).toEqual([0, 1]);
  });
});
