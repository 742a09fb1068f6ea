import { describe, expect, it } from 'vitest';
import { limits } from '../../core/protocol.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { counterId, engineFixture } from '../helpers/engine.ts';

const open = engineFixture({ syncing: true });

const increments = (n: number) => Array.from({ length: n }, () => ({ type: 'increment' }));

const summary = ({ streams }: Awaited<ReturnType<IndexedDBSyncStorage['readPush']>>) =>
  streams.map(({ stream, expectedVersion, expectedId, events }) => ({
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
    const next = await new IndexedDBSyncStorage(engine).readPush();
    // b's batch waits for the next push, which follows at once.
    expect(next.more).toBe(true);
    const push = summary(next);
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
    const next = await new IndexedDBSyncStorage(engine).readPush();
    // Nothing that can be pushed was left out.
    expect(next.more).toBe(false);
    const push = summary(next);
    expect(push).toHaveLength(limits.maxStreamsPerPush);
    expect(push[0]!.stream).toBe(counterId(2));
    expect(push.at(-1)!.stream).toBe(counterId(n));
  });

  it('a stream that cannot be pushed yet does not keep the room from the others, however much it holds', async () => {
    const engine = await open();
    const [stuck, other] = [counterId(1), counterId(2)];
    await engine.execute(stuck, { type: 'create', name: 'Stuck' });
    await engine.execute(stuck, increments(limits.maxEventsPerPush - 1));
    await engine.execute(other, { type: 'create', name: 'Other' });
    await engine.store.writeBehind();
    // The first stream waits for a rebase: its pending events are not right after its head.
    await engine.db.put('streams', {
      stream: stuck,
      version: limits.maxEventsPerPush,
      confirmed: limits.maxEventsPerPush + 5,
    });
    const next = await new IndexedDBSyncStorage(engine).readPush();
    expect(summary(next).map(({ stream, versions }) => [stream, versions])).toEqual([[other, [1]]]);
    expect(next.more).toBe(false);
  });

  it('takes commands whose outbox entries are still behind the appends, without writing them', async () => {
    const engine = await open();
    const storage = new IndexedDBSyncStorage(engine);
    const [a, b] = [counterId(1), counterId(2)];
    await engine.execute(a, { type: 'create', name: 'A' });
    await engine.execute(b, { type: 'create', name: 'B' });
    await engine.store.writeBehind();
    await engine.execute(a, { type: 'increment' });
    await engine.execute(b, [{ type: 'increment' }, { type: 'increment' }]);
    const written = engine.store.behindTransactions;
    expect(await engine.db.count('outbox')).toBe(2);
    expect(await storage.pendingCount()).toBe(4);
    expect(await storage.pendingCount(new Set([b]))).toBe(2);
    expect(
      summary(await storage.readPush()).map(({ stream, versions }) => [stream, versions]),
    ).toEqual([
      [a, [1, 2]],
      [b, [1, 2, 3]],
    ]);
    expect(engine.store.behindTransactions).toBe(written);
    // Read while they are being written: each command once, whichever side of the write.
    const writing = engine.store.writeBehind();
    const [count, next] = await Promise.all([storage.pendingCount(), storage.readPush()]);
    await writing;
    expect(count).toBe(4);
    expect(summary(next).map(({ versions }) => versions)).toEqual([
      [1, 2],
      [1, 2, 3],
    ]);
    expect(await storage.pendingCount()).toBe(4);
  });
});
