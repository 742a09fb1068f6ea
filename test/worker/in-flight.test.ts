import fc from 'fast-check';
import { unwrap } from 'idb';
import { describe, expect, it } from 'vitest';
import type { CounterCommand } from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, listCounters, openEngine } from '../helpers/engine.ts';

/**
 * Faults in the append transactions: `fail(n)` says whether the n-th readwrite transaction the
 * engine creates from now on aborts (after its requests are issued, before it can commit). Also
 * counts how many were open at once, so a test can tell two were in flight.
 */
function injectFaults(engine: Engine, fail: (n: number) => boolean) {
  // On the platform's object, under idb's wrapper, so the store's own handles stay the real ones.
  const db = unwrap(engine.db);
  const original = IDBDatabase.prototype.transaction;
  let created = 0;
  let open = 0;
  /**
   * `aborted`: those it aborted; `aborts`: every readwrite transaction that aborted; `created`:
   * every readwrite transaction (one decided again makes one more).
   */
  const seen = { maxOpen: 0, aborted: 0, aborts: 0, created: 0 };
  db.transaction = function (this: IDBDatabase, ...args: Parameters<typeof original>) {
    const tx = original.apply(this, args);
    if (args[1] !== 'readwrite') return tx;
    seen.created++;
    open++;
    seen.maxOpen = Math.max(seen.maxOpen, open);
    const closed = () => open--;
    tx.addEventListener('complete', closed);
    tx.addEventListener('abort', closed);
    tx.addEventListener('abort', () => seen.aborts++);
    if (fail(created++)) {
      // Left uncommitted (the store commits its appends at once, `commitNow`), so it can fail.
      tx.commit = () => {};
      queueMicrotask(() => {
        try {
          tx.abort();
          seen.aborted++;
        } catch {
          // Already finished: nothing to break.
        }
      });
    }
    return tx;
  } as typeof original;
  return { seen, restore: () => delete (db as Partial<IDBDatabase>).transaction };
}

/** The stored truth of one counter: versions, head, read model, each event once. */
async function checkStream(engine: Engine, stream: string) {
  const history = await engine.history(stream);
  const versions = history.map((h) => h.version);
  expect(versions).toEqual(versions.map((_, i) => i + 1));
  expect(await engine.store.streamVersion(stream)).toBe(versions.length);
  const row = (await listCounters(engine)).find((r) => r.id === stream);
  expect(row?.value).toBe(history.at(-1)?.value);
  return history.length;
}

const step = fc.constantFrom<CounterCommand[]>(
  [{ type: 'increment' }],
  [{ type: 'decrement' }],
  [{ type: 'increment' }, { type: 'increment' }],
);

describe('two append transactions in flight', () => {
  it('whichever of them fails, every stream stays exact: no gap, no lost or doubled event, rows and heads agree', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), step), { minLength: 1, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        // Fewer streams kept than touched: some are read again, some decided from memory.
        fc.integer({ min: 1, max: 5 }),
        async (jobs, faults, maxBatch, maxCached) => {
          const engine = await openEngine({ maxBatch, maxCached });
          try {
            const streams = [0, 1, 2, 3].map(counterId);
            await Promise.all(
              streams.map((id, i) => engine.execute(id, { type: 'create', name: `F${i}` })),
            );
            const { seen, restore } = injectFaults(engine, (n) => faults[n % faults.length]!);
            const results = await Promise.allSettled(
              jobs.map(([a, commands]) => engine.execute(streams[a]!, commands)),
            );
            restore();
            // Every accepted command's events are stored, at the versions it was told.
            let stored = 0;
            for (const id of streams) stored += await checkStream(engine, id);
            let accepted = streams.length;
            for (const [i, result] of results.entries()) {
              if (result.status !== 'fulfilled' || result.value.type !== 'accepted') continue;
              const stored = await engine.store.readStream(streams[jobs[i]![0]]!);
              for (const event of result.value.events)
                expect(stored[event.version - 1]?.id).toBe(event.id);
              accepted += result.value.events.length;
            }
            // A failed one wrote nothing: only accepted events are stored.
            expect(stored).toBe(accepted);
            expect(await engine.store.position()).toBe(stored);
            expect((await engine.readAfter(0, 10_000)).map((e) => e.position)).toEqual(
              Array.from({ length: stored }, (_, i) => i + 1),
            );
            if (seen.aborted === 0)
              expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
            // And the engine carries on from the durable state.
            for (const id of streams) {
              const before = await engine.store.streamVersion(id);
              expect(await engine.execute(id, { type: 'increment' })).toMatchObject({
                type: 'accepted',
                version: before + 1,
              });
              await checkStream(engine, id);
            }
          } finally {
            engine.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('an append that reads while the one before it has failed, not yet told, is decided again: no gap', async () => {
    // Found by the property above (seed -415146651): the failed append's head was taken from
    // memory by the next one, which read after the cache had forgotten the failed one's number,
    // and stored version 4 of a stream whose version 3 was never written.
    const engine = await openEngine({ maxBatch: 1, maxCached: 2 });
    try {
      const streams = [0, 1, 2, 3].map(counterId);
      await Promise.all(
        streams.map((id, i) => engine.execute(id, { type: 'create', name: `G${i}` })),
      );
      const faults = [true, false, false, false, true];
      const { restore } = injectFaults(engine, (n) => faults[n % faults.length]!);
      const jobs = [1, 0, 3, 1, 1, 3, 3];
      const results = await Promise.allSettled(
        jobs.map((a) => engine.execute(streams[a]!, { type: 'increment' })),
      );
      restore();
      for (const id of streams) await checkStream(engine, id);
      // Every accepted increment is stored at the version it was told, and nothing else is.
      for (const [i, result] of results.entries())
        if (result.status === 'fulfilled' && result.value.type === 'accepted')
          expect(
            (await engine.store.readStream(streams[jobs[i]!]!)).at(result.value.version - 1)?.id,
          ).toBe(result.value.events[0]!.id);
    } finally {
      engine.close();
    }
  });

  it('a command alone reads nothing; after a receive wrote the position, the next appends, alone and two in flight, abort none', async () => {
    const engine = await openEngine({ maxBatch: 1 });
    const other = await openEngine({ device: 'device-other-1' });
    const get = IDBObjectStore.prototype.get;
    try {
      const [a, r] = [counterId(1), counterId('r1')];
      await engine.execute(a, { type: 'create', name: 'A' });
      await engine.execute(a, { type: 'increment' });
      let reads = 0;
      IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey) {
        reads++;
        return get.call(this, key);
      };
      await engine.execute(a, { type: 'increment' });
      IDBObjectStore.prototype.get = get;
      expect(reads).toBe(0);
      // The server's events of another counter: written beside the appends, with the position.
      await other.execute(r, { type: 'create', name: 'R' });
      const theirs = await other.store.readStream(r);
      await engine.receive(
        r,
        theirs.map(({ position: _, ...event }) => event),
      );
      const { seen, restore } = injectFaults(engine, () => false);
      await engine.execute(a, { type: 'increment' });
      const results = await Promise.all([
        engine.execute(a, { type: 'increment' }),
        engine.execute(r, { type: 'increment' }),
        engine.execute(a, { type: 'increment' }),
      ]);
      restore();
      expect(seen.maxOpen).toBeGreaterThanOrEqual(2);
      expect(seen.aborts).toBe(0);
      // One transaction each (the one alone, then the three): none decided twice.
      expect(seen.created).toBe(4);
      expect(results.map((result) => result.type === 'accepted' && result.version)).toEqual([
        5, 2, 6,
      ]);
      expect(await checkStream(engine, a)).toBe(6);
      expect(await checkStream(engine, r)).toBe(2);
    } finally {
      IDBObjectStore.prototype.get = get;
      engine.close();
      other.close();
    }
  });

  it('the first of two in flight fails: the second is decided again on what is stored', async () => {
    const engine = await openEngine({ maxBatch: 1 });
    try {
      const [a, b] = [counterId(1), counterId(2)];
      await engine.execute(a, { type: 'create', name: 'A' });
      await engine.execute(b, { type: 'create', name: 'B' });
      const { seen, restore } = injectFaults(engine, (n) => n === 0);
      // One batch per transaction: a's increment in the first, b's in the second, a's second
      // increment (decided on top of the first) in the third.
      const results = await Promise.allSettled([
        engine.execute(a, { type: 'increment' }),
        engine.execute(b, { type: 'increment' }),
        engine.execute(a, { type: 'increment' }),
      ]);
      restore();
      expect(seen.maxOpen).toBeGreaterThanOrEqual(2);
      expect(seen.aborted).toBe(1);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
      expect(await checkStream(engine, a)).toBe(1);
      expect(await checkStream(engine, b)).toBe(2);
      expect(await engine.execute(a, { type: 'increment' })).toMatchObject({ version: 2 });
    } finally {
      engine.close();
    }
  });
});
