import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import {
  counter,
  type CounterCommand,
  type CounterEvent,
  type CounterState,
} from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, dumpDatabase, openEngine, listCounters } from '../helpers/engine.ts';

// Names are unique per aggregate so that only the order within an aggregate matters.
const commandFor = (aggregate: number): fc.Arbitrary<CounterCommand> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant<CounterCommand>({ type: 'increment' }) },
    { weight: 3, arbitrary: fc.constant<CounterCommand>({ type: 'decrement' }) },
    {
      weight: 1,
      arbitrary: fc.constant<CounterCommand>({ type: 'create', name: `N${aggregate}` }),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 0, max: 3 })
        .map((n): CounterCommand => ({ type: 'rename', name: `N${aggregate}-${n}` })),
    },
  );

const workload = fc
  .integer({ min: 1, max: 4 })
  .chain((aggregates) =>
    fc.tuple(
      fc.tuple(
        ...Array.from({ length: aggregates }, (_, a) =>
          fc.array(fc.array(commandFor(a), { minLength: 1, maxLength: 3 }), { maxLength: 15 }),
        ),
      ),
      fc.array(fc.nat(), { maxLength: 80 }),
    ),
  );

/** What a stream says, without ids and times. */
async function streams(engine: Engine, count: number) {
  const out = [];
  for (let a = 0; a < count; a++)
    out.push((await engine.history(counterId(a))).map((h) => [h.version, h.type, h.name, h.value]));
  return out;
}

const yieldTimes = async (n: number) => {
  for (let i = 0; i < n % 4; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('engine properties', () => {
  it('any interleaving over several aggregates gives the streams of running them one by one', async () => {
    await fc.assert(
      fc.asyncProperty(workload, async ([perAggregate, schedule]) => {
        const sequential = await openEngine();
        const concurrent = await openEngine({ maxResident: 2 });
        try {
          const seqOutcomes: string[][] = perAggregate.map(() => []);
          for (let a = 0; a < perAggregate.length; a++)
            for (const batch of perAggregate[a]!)
              seqOutcomes[a]!.push((await sequential.execute(counterId(a), batch)).type);

          // Merge the aggregates' queues in a random order, yielding at random moments.
          const cursors = perAggregate.map(() => 0);
          const pending: Promise<string>[][] = perAggregate.map(() => []);
          let step = 0;
          for (;;) {
            const open = cursors.flatMap((c, a) => (c < perAggregate[a]!.length ? [a] : []));
            if (open.length === 0) break;
            const pick = schedule[step++ % Math.max(schedule.length, 1)] ?? 0;
            const a = open[pick % open.length]!;
            const batch = perAggregate[a]![cursors[a]!++]!;
            pending[a]!.push(concurrent.execute(counterId(a), batch).then((r) => r.type));
            await yieldTimes(pick);
          }
          const conOutcomes = await Promise.all(pending.map((p) => Promise.all(p)));
          expect(conOutcomes).toEqual(seqOutcomes);
          expect(await streams(concurrent, perAggregate.length)).toEqual(
            await streams(sequential, perAggregate.length),
          );
          expect(await listCounters(concurrent)).toEqual(
            (await listCounters(sequential)).map((row) => ({
              ...row,
              createdAt: expect.any(Number),
              updatedAt: expect.any(Number),
            })),
          );
        } finally {
          sequential.close();
          concurrent.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a rejected command or batch leaves store and read model byte-for-byte unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.array(
          fc.constantFrom<CounterCommand>({ type: 'increment' }, { type: 'rename', name: 'Other' }),
          { maxLength: 4 },
        ),
        async (value, prefix) => {
          const engine = await openEngine();
          try {
            const id = counterId(1);
            await engine.execute(id, { type: 'create', name: 'Subject' });
            await engine.execute(counterId(2), { type: 'create', name: 'Taken' });
            for (let i = 0; i < value; i++) await engine.execute(id, { type: 'increment' });
            const before = await dumpDatabase(engine.db);
            const ups = prefix.filter((c) => c.type === 'increment').length;
            // Enough decrements to pass zero: the whole batch must fail.
            const downs = Array.from({ length: value + ups + 1 }, (): CounterCommand => ({
              type: 'decrement',
            }));
            const rejectedBatch = await engine.execute(id, [...prefix, ...downs]);
            const rejectedName = await engine.execute(id, { type: 'rename', name: 'taken' });
            const rejectedCreate = await engine.execute(counterId(3), [
              { type: 'create', name: 'New' },
              { type: 'decrement' },
            ]);
            expect([rejectedBatch.type, rejectedName.type, rejectedCreate.type]).toEqual([
              'rejected',
              'rejected',
              'rejected',
            ]);
            expect(await dumpDatabase(engine.db)).toBe(before);
            // The name the rejected create reserved in memory is free again.
            expect((await engine.execute(counterId(4), { type: 'create', name: 'New' })).type).toBe(
              'accepted',
            );
          } finally {
            engine.close();
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('snapshot plus tail loads the same state as a full replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.constantFrom<CounterCommand>(
            { type: 'increment' },
            { type: 'decrement' },
            { type: 'rename', name: 'R' },
          ),
          { maxLength: 60 },
        ),
        async (snapshotEvery, commands) => {
          const engine = await openEngine({ snapshotEvery });
          try {
            const id = counterId(1);
            await engine.execute(id, { type: 'create', name: 'S' });
            for (const command of commands) await engine.execute(id, command);
            const loaded = await engine.store.load(id, {
              model: counter.name,
              modelVersion: counter.stateVersion,
            });
            const fromSnapshot = (loaded.events as readonly EventEnvelope<CounterEvent>[]).reduce(
              counter.evolve,
              (loaded.snapshot?.state as CounterState | undefined) ?? counter.initialState(),
            );
            const replay = (
              (await engine.store.readStream(id)) as readonly EventEnvelope<CounterEvent>[]
            ).reduce(counter.evolve, counter.initialState());
            expect(fromSnapshot).toEqual(replay);
            expect(loaded.snapshot?.version ?? 0).toBeLessThanOrEqual(
              await engine.store.streamVersion(id),
            );
          } finally {
            engine.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('eviction under load loses nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean()), {
          minLength: 1,
          maxLength: 120,
        }),
        async (maxResident, ops) => {
          const engine = await openEngine({ maxResident, snapshotEvery: 5 });
          try {
            await Promise.all(
              Array.from({ length: 8 }, (_, a) =>
                engine.execute(counterId(a), { type: 'create', name: `E${a}` }),
              ),
            );
            const results = await Promise.all(
              ops.map(([a, up]) =>
                engine
                  .execute(counterId(a), { type: up ? 'increment' : 'decrement' })
                  .then((r) => ({ a, up, r })),
              ),
            );
            expect(engine.resident).toBeLessThanOrEqual(maxResident);
            const expected = Array.from({ length: 8 }, () => 0);
            for (const { a, up, r } of results)
              if (r.type === 'accepted') expected[a]! += up ? 1 : -1;
            const rows = await listCounters(engine);
            expect(rows.map((row) => row.value)).toEqual(expected);
            for (let a = 0; a < 8; a++) {
              const versions = (await engine.history(counterId(a))).map((h) => h.version);
              const accepted = results.filter((x) => x.a === a && x.r.type === 'accepted').length;
              expect(versions).toEqual(Array.from({ length: accepted + 1 }, (_, i) => i + 1));
            }
          } finally {
            engine.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
