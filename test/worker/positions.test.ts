import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import { counterId, listCounters, openEngine, storeSpace } from '../helpers/engine.ts';
import { eventsOf } from '../../worker/event-records.ts';

const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
  event as EventEnvelope<CounterEvent>;

type Step =
  | { readonly kind: 'count'; readonly stream: number; readonly times: number }
  | { readonly kind: 'create'; readonly stream: number }
  | { readonly kind: 'remote'; readonly stream: number }
  | { readonly kind: 'forget'; readonly stream: number }
  | { readonly kind: 'behind' }
  | { readonly kind: 'restart' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('count' as const),
    stream: fc.integer({ min: 0, max: 2 }),
    times: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('create' as const), stream: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('remote' as const), stream: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('forget' as const), stream: fc.integer({ min: 0, max: 4 }) }),
  fc.constant({ kind: 'behind' as const }),
  fc.constant({ kind: 'restart' as const }),
);

// An append writes only its events; the store's position is written behind them, so it is the
// newest event's or `meta` `head`'s (worker/written-behind.ts, `readStoredPosition`). Deleting a
// counter forever, the server's events and a rebase delete events, and a stop can come before
// anything is written behind: none of it may hand out a position twice, or leave a count out.
describe('the store position', () => {
  it('never hands out a position twice, and every stream stays exact, through counting, the server’s events, deleting forever, writes behind and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        async (groups) => {
          const mine = [0, 1, 2].map((i) => counterId(`m${i}`));
          const remote = [0, 1].map((i) => counterId(`r${i}`));
          const all = [...mine, ...remote];
          let engine = await openEngine();
          await storeSpace(engine);
          const other = await openEngine({ device: 'device-other-1' });
          const seen = new Map<number, string>();
          let named = 0;
          const made = [0, 0];
          const check = async (e: Engine) => {
            for (const event of (await e.db.getAll('events')).flatMap((record) =>
              eventsOf(record),
            )) {
              const was = seen.get(event.position);
              if (was !== undefined)
                expect(was, `position ${event.position} reused`).toBe(event.id);
              seen.set(event.position, event.id);
            }
            expect(await e.store.position()).toBeGreaterThanOrEqual(Math.max(0, ...seen.keys()));
          };
          try {
            for (const group of groups) {
              const target = engine;
              const work = group.map(async (s) => {
                try {
                  if (s.kind === 'count') {
                    const press = () => target.execute(mine[s.stream]!, { type: 'increment' });
                    if (s.times % 2 === 0)
                      await Promise.all(Array.from({ length: s.times }, press));
                    else for (let k = 0; k < s.times; k++) await press();
                  } else if (s.kind === 'create') {
                    await target.execute(mine[s.stream]!, {
                      type: 'create',
                      name: `M${s.stream}-${++named}`,
                    });
                  } else if (s.kind === 'remote') {
                    const id = remote[s.stream]!;
                    await other.execute(
                      id,
                      made[s.stream]! === 0 ? { type: 'create', name: 'R' } : { type: 'increment' },
                    );
                    made[s.stream]!++;
                    const held = (await target.store.readStream(id)).length;
                    const events = (await other.store.readStream(id)).slice(held);
                    if (events.length > 0) await target.receive(id, events.map(strip));
                  } else if (s.kind === 'forget') {
                    await target.forgetDeleted(all[s.stream]!);
                  } else if (s.kind === 'behind') {
                    await target.store.writeBehind();
                  }
                } catch {
                  // Refused (a counter not there, a name taken), or the engine stopped under it.
                }
              });
              if (group.some((s) => s.kind === 'restart')) {
                // A stop with the group's work in flight: what was acked is on disk, what was
                // behind is folded at the next start.
                const name = target.db.name;
                target.close();
                await Promise.allSettled(work);
                engine = await openEngine({ dbName: name });
              } else await Promise.all(work);
              await check(engine);
            }
            const name = engine.db.name;
            engine.close();
            engine = await openEngine({ dbName: name });
            await check(engine);
            const rows = new Map((await listCounters(engine)).map((row) => [row.id, row]));
            for (const id of mine) {
              const history = await engine.history(id);
              expect(history.map((h) => h.version)).toEqual(history.map((_, i) => i + 1));
              expect(await engine.store.streamVersion(id)).toBe(history.length);
              expect(rows.get(id)?.value).toBe(history.at(-1)?.value);
            }
          } finally {
            engine.close();
            other.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});
