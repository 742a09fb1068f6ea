import { describe, expect, it } from 'vitest';
import { limits } from '../../core/protocol.ts';
import type { PushStream } from '../../core/sync-port.ts';
import { IndexedDBSyncStorage, readPushFromStore } from '../../worker/sync-storage.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, engineFixture } from '../helpers/engine.ts';
import { eventAt } from '../../worker/event-records.ts';

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
    const first = await eventAt(engine.db.transaction('events').store, stream, 1);
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

/** The push the store holds now, read from it whatever memory knows. */
const pushInStore = (engine: Engine) =>
  engine.store.withUnwritten((unwritten) =>
    readPushFromStore(
      engine.db,
      (record) => engine.store.decodeRecord(record),
      unwritten,
      undefined,
    ),
  );

/** The server accepted `push`: what the sync client tells the storage. */
const accepted = (storage: IndexedDBSyncStorage, push: { streams: readonly PushStream[] }) => {
  for (const { stream, events } of push.streams)
    expect(storage.confirmPushed(stream, events)).toBe(true);
};

describe('the next push from memory', () => {
  it('is the push the store holds, made without a read once the streams were pushed and accepted', async () => {
    const engine = await open();
    const storage = new IndexedDBSyncStorage(engine);
    const [a, b] = [counterId(1), counterId(2)];
    await engine.execute(a, { type: 'create', name: 'A' });
    await engine.execute(b, { type: 'create', name: 'B' });
    const first = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 0, store: 1 });
    accepted(storage, first);
    await engine.execute(a, increments(3));
    await engine.execute(b, { type: 'rename', name: 'Bee' });
    await engine.execute(a, { type: 'increment', amount: 5 });
    const next = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 1, store: 1 });
    expect(next).toEqual(await pushInStore(engine));
    const created = new Map(first.streams.map(({ stream, events }) => [stream, events[0]!.id]));
    expect(summary(next)).toEqual([
      { stream: a, expectedVersion: 1, expectedId: created.get(a), versions: [2, 3, 4, 5] },
      { stream: b, expectedVersion: 1, expectedId: created.get(b), versions: [2] },
    ]);
    accepted(storage, next);
    // All of it accepted: nothing left, known without a read either.
    expect(await storage.readPush()).toEqual({ streams: [], more: false });
    expect(storage.pushReads).toEqual({ memory: 2, store: 1 });
    // A stream never pushed (its head not known here): the store is read.
    await engine.execute(counterId(3), { type: 'create', name: 'C' });
    await engine.execute(a, { type: 'decrement' });
    const third = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 2, store: 2 });
    expect(summary(third).map(({ stream, versions }) => [stream, versions])).toEqual([
      [counterId(3), [1]],
      [a, [6]],
    ]);
  });

  it('reads the store again once anything may have written its outbox or heads', async () => {
    const engine = await open();
    const storage = new IndexedDBSyncStorage(engine);
    const [a, b] = [counterId(1), counterId(2)];
    await engine.execute(a, { type: 'create', name: 'A' });
    await engine.execute(b, { type: 'create', name: 'B' });
    accepted(storage, await storage.readPush());
    await engine.execute(a, { type: 'increment' });
    await engine.execute(b, { type: 'increment' });
    // Written behind: the entries are stored now, and so would be any written beside them.
    await engine.store.writeBehind();
    expect(await engine.db.count('outbox')).toBe(2);
    const stored = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 0, store: 2 });
    expect(summary(stored).map(({ stream, versions }) => [stream, versions])).toEqual([
      [a, [2]],
      [b, [2]],
    ]);
    // Stored entries are not confirmed in memory: received, they leave the outbox empty again.
    for (const { stream, events } of stored.streams) {
      expect(storage.confirmPushed(stream, events)).toBe(false);
      await storage.receive(stream, events);
    }
    expect(await engine.db.count('outbox')).toBe(0);
    // A writer beside the appends (here a receive) forgot the heads: read once more…
    await engine.execute(a, { type: 'increment' });
    const again = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 0, store: 3 });
    expect(again).toEqual(await pushInStore(engine));
    accepted(storage, again);
    // …and from then on, from memory; a forgotten stream's commands go with it.
    await engine.execute(a, { type: 'increment' });
    await engine.execute(b, { type: 'increment' });
    await engine.forget(b);
    const last = await storage.readPush();
    expect(storage.pushReads).toEqual({ memory: 0, store: 4 });
    expect(summary(last).map(({ stream, versions }) => [stream, versions])).toEqual([[a, [4]]]);
  });

  it('pushes a stream another device moved meanwhile on its new head, naming that device’s event', async () => {
    const engine = await open();
    const storage = new IndexedDBSyncStorage(engine);
    const a = counterId(1);
    await engine.execute(a, { type: 'create', name: 'A' });
    accepted(storage, await storage.readPush());
    const theirs = {
      type: 'Incremented',
      data: { amount: 2 },
      id: 'ev-other-device-0001',
      stream: a,
      version: 2,
      meta: { time: 1, device: 'device-other-1', command: 'cmd-other-1', schema: 1 },
    };
    await storage.receive(a, [theirs]);
    expect(await storage.readPush()).toEqual({ streams: [], more: false });
    await engine.execute(a, { type: 'increment' });
    const next = await storage.readPush();
    expect(next).toEqual(await pushInStore(engine));
    expect(summary(next)).toEqual([
      { stream: a, expectedVersion: 2, expectedId: theirs.id, versions: [3] },
    ]);
    accepted(storage, next);
    await engine.execute(a, { type: 'increment' });
    const memory = storage.pushReads.memory;
    expect(summary(await storage.readPush())).toEqual([
      { stream: a, expectedVersion: 3, expectedId: next.streams[0]!.events[0]!.id, versions: [4] },
    ]);
    expect(storage.pushReads.memory).toBe(memory + 1);
  });
});
