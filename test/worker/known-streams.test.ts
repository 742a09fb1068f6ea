import { unwrap } from 'idb';
import { describe, expect, it, vi } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import { counterId, engineFixture, listCounters } from '../helpers/engine.ts';

const open = engineFixture();

const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
  event as EventEnvelope<CounterEvent>;

/** Read-only transactions that read stream heads: how a load asks whether a stream exists. */
function countHeadReads(db: IDBDatabase) {
  const reads = { count: 0 };
  const original = db.transaction.bind(db);
  vi.spyOn(db, 'transaction').mockImplementation((stores, mode, options) => {
    if ((mode ?? 'readonly') === 'readonly' && [stores].flat().includes('streams')) reads.count++;
    return original(stores, mode, options);
  });
  return reads;
}

describe('which streams exist, known from the start', () => {
  it('creates a counter without reading the database first', async () => {
    const engine = await open();
    // Read at the first load, without holding it back; loads read as before until then.
    await engine.execute(counterId(0), { type: 'create', name: 'First' });
    await engine.store.streamsLearned;
    const reads = countHeadReads(unwrap(engine.db));
    for (let i = 1; i <= 20; i++)
      expect(await engine.execute(counterId(i), { type: 'create', name: `C${i}` })).toMatchObject({
        type: 'accepted',
      });
    expect(reads.count).toBe(0);
    expect(await listCounters(engine)).toHaveLength(21);
  });

  it('loads a stream written before it opened, with its events, never as new', async () => {
    const dbName = `tally-known-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const first = await open({ dbName });
    const id = counterId(1);
    await first.execute(id, { type: 'create', name: 'Water' });
    await first.execute(id, [{ type: 'increment' }, { type: 'increment' }]);
    first.close();
    const again = await open({ dbName });
    expect(await again.execute(id, { type: 'create', name: 'Other' })).toMatchObject({
      type: 'rejected',
    });
    expect(await again.execute(id, { type: 'increment' })).toMatchObject({ type: 'accepted' });
    expect((await listCounters(again)).map((row) => [row.name, row.value])).toEqual([['Water', 3]]);
  });

  it('misses no stream written while it was still reading which exist', async () => {
    // One actor and one cached stream: touching another counter makes the next command on
    // the first load it again, which asks whether it exists.
    const engine = await open({ maxResident: 1, maxCached: 1 });
    const id = counterId(3);
    // Its actor in memory, knowing the counter does not exist yet (the first load: the ids
    // are read once).
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({ type: 'rejected' });
    await engine.store.streamsLearned;
    // The ids read again, as at open; the create's write is asked while that read is out.
    engine.store.learnStreams();
    const made = engine.execute(id, { type: 'create', name: 'Tea' });
    await engine.store.streamsLearned;
    expect(await made).toMatchObject({ type: 'accepted' });
    expect(await engine.execute(counterId(4), { type: 'create', name: 'Milk' })).toMatchObject({
      type: 'accepted',
    });
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({ type: 'accepted' });
    expect((await listCounters(engine)).map((row) => [row.name, row.value]).sort()).toEqual([
      ['Milk', 0],
      ['Tea', 1],
    ]);
  });

  it('loads a stream another device sent after it opened as that stream, not as new', async () => {
    const [here, there] = [await open(), await open({ device: 'device-test-2' })];
    const id = counterId(7);
    const made = await there.execute(id, [
      { type: 'create', name: 'Pages' },
      { type: 'increment' },
    ]);
    if (made.type !== 'accepted') throw new Error('create was rejected');
    // Received before this engine ever loaded the stream.
    expect(await here.receive(id, made.events.map(strip))).toMatchObject({ type: 'applied' });
    expect(await here.execute(id, { type: 'increment' })).toMatchObject({ type: 'accepted' });
    expect((await listCounters(here)).map((row) => [row.name, row.value])).toEqual([['Pages', 2]]);
  });

  it('keeps the order commands came in while the ids are still being read', async () => {
    const engine = await open();
    const ids = Array.from({ length: 200 }, (_, i) => counterId(100 + i));
    const made: Promise<unknown>[] = [];
    for (const [i, id] of ids.entries()) {
      made.push(engine.execute(id, { type: 'create', name: `Burst ${i}` }));
      // Arriving over many tasks, as messages from a tab do: some after the ids are read.
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(made);
    const stored = await engine.store.readAfter(0, 1_000);
    expect(stored.map((event) => event.stream)).toEqual(ids);
  });
});
