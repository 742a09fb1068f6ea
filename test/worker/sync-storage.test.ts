import { describe, expect, it } from 'vitest';
import { limits } from '../../core/protocol.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { counterId, engineFixture } from '../helpers/engine.ts';

const open = engineFixture();

const increments = (n: number) => Array.from({ length: n }, () => ({ type: 'increment' }));

const summary = (push: Awaited<ReturnType<IndexedDBSyncStorage['readPush']>>) =>
  push.map(({ stream, expectedVersion, expectedId, events }) => ({
    stream,
    expectedVersion,
    expectedId,
    versions: events.map((event) => event.version),
  }));

describe('the next push (readPush)', () => {
  it('takes whole commands within the event limit, oldest streams first', async () => {
    const engine = await open();
    const [a, b, c] = [counterId(1), counterId(2), counterId(3)];
    await engine.execute(a, { type: 'create', name: 'A' });
    await engine.execute(b, { type: 'create', name: 'B' });
    await engine.execute(c, { type: 'create', name: 'C' });
    // a: 1 + 599 events; b: its batch of 499 no longer fits after its create, so b stops there;
    // c's small commands still fit after it.
    await engine.execute(a, increments(limits.maxEventsPerPush - 401));
    await engine.execute(b, increments(499));
    await engine.execute(c, { type: 'increment' });
    const push = summary(await new IndexedDBSyncStorage(engine).readPush());
    expect(push.map(({ stream, versions }) => [stream, versions.length, versions.at(-1)])).toEqual([
      [a, 600, 600],
      [b, 1, 1],
      [c, 2, 2],
    ]);
    expect(push.every(({ expectedVersion }) => expectedVersion === 0)).toBe(true);
  });

  it('names the event at the confirmed head, and pushes what follows it', async () => {
    const engine = await open();
    const stream = counterId(1);
    await engine.execute(stream, { type: 'create', name: 'A' });
    await engine.execute(stream, { type: 'increment' });
    await engine.store.writeBehind();
    // The create was accepted: its outbox entry is gone and the confirmed head moved.
    const [created] = await engine.db.getAll('outbox');
    await engine.db.delete('outbox', created!.seq!);
    await engine.db.put('streams', { stream, version: 2, confirmed: 1 });
    const first = await engine.db.getFromIndex('events', 'byStream', [stream, 1]);
    expect(summary(await new IndexedDBSyncStorage(engine).readPush())).toEqual([
      { stream, expectedVersion: 1, expectedId: first!.id, versions: [2] },
    ]);
  });

  it('skips a stream whose pending events do not follow its confirmed head, and fills its place', async () => {
    const engine = await open();
    const n = limits.maxStreamsPerPush + 1;
    for (let i = 1; i <= n; i++)
      await engine.execute(counterId(i), { type: 'create', name: `C${i}` });
    await engine.store.writeBehind();
    // The first stream waits for a rebase: its pending create is not right after its head.
    await engine.db.put('streams', { stream: counterId(1), version: 1, confirmed: 5 });
    const push = summary(await new IndexedDBSyncStorage(engine).readPush());
    expect(push).toHaveLength(limits.maxStreamsPerPush);
    expect(push[0]!.stream).toBe(counterId(2));
    expect(push.at(-1)!.stream).toBe(counterId(n));
  });
});
