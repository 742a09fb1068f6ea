import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import { eventsOf, type EventBatch } from '../../worker/event-records.ts';
import { counterId, engineFixture, listCounters } from '../helpers/engine.ts';

const open = engineFixture();
const openSyncing = engineFixture({ syncing: true });

const COUNTERS = 12;
const ids = Array.from({ length: COUNTERS }, (_, i) => counterId(`batch-${i}`));

/** Counters made, then counted in one burst: their events share batches (group commits). */
async function burst(engine: Engine, rounds = 10): Promise<void> {
  await Promise.all(ids.map((id, i) => engine.execute(id, { type: 'create', name: `B${i}` })));
  const work = [];
  for (let round = 0; round < rounds; round++)
    for (const id of ids) work.push(engine.execute(id, { type: 'increment' }));
  const results = await Promise.all(work);
  expect(results.every((result) => result.type === 'accepted')).toBe(true);
}

const records = (engine: Engine) => engine.db.getAll('events');
const batches = async (engine: Engine) =>
  (await records(engine)).filter((record): record is EventBatch => 'versions' in record);

describe('events stored in batches', () => {
  it('a burst is stored as batches, and every reader sees each event once, in order', async () => {
    const first = await open();
    await burst(first);
    const total = COUNTERS * 11;
    const stored = await records(first);
    expect(stored.length).toBeLessThan(total / 2);
    expect((await batches(first)).length).toBeGreaterThan(0);
    const all = stored.flatMap(eventsOf);
    expect(all).toHaveLength(total);
    // A batch is keyed by its last event's position, and lists each event's [stream, version].
    for (const batch of await batches(first)) {
      expect(batch.position).toBe(batch.events.at(-1)!.position);
      expect(batch.versions).toEqual(batch.events.map((e) => [e.stream, e.version]));
    }
    // Following the store in pages smaller than a batch: every position once, ascending.
    const seen: number[] = [];
    for (let page = await first.readAfter(0, 7); page.length > 0;) {
      seen.push(...page.map((event) => event.position));
      page = await first.readAfter(page.at(-1)!.position, 7);
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // A fresh engine on the same database loads each stream from its batches.
    const name = first.db.name;
    first.close();
    const second = await open({ dbName: name });
    expect((await listCounters(second)).map((row) => row.value)).toEqual(ids.map(() => 10));
    for (const id of ids) {
      const history = await second.history(id);
      expect(history.map((line) => line.version)).toEqual(
        Array.from({ length: 11 }, (_, i) => i + 1),
      );
      expect(await second.execute(id, { type: 'increment' })).toMatchObject({
        type: 'accepted',
        version: 12,
      });
    }
  });

  it('a retried command whose events are in a batch is answered with them', async () => {
    const engine = await open();
    await burst(engine, 3);
    const batch = (await batches(engine))[0]!;
    const event = batch.events[1]!;
    const found = await engine.eventsOfCommand(event.stream, event.meta.command);
    expect(found.map((e) => e.id)).toEqual([event.id]);
  });

  it('deleting a counter forever takes its events out of shared batches and leaves the others whole', async () => {
    const engine = await open();
    await burst(engine);
    const [gone, ...kept] = ids;
    expect(await engine.forget(gone!)).toBe(11);
    const left = (await records(engine)).flatMap(eventsOf);
    expect(left.filter((event) => event.stream === gone)).toEqual([]);
    expect(left).toHaveLength(kept.length * 11);
    // The store's position stays past every position used, so none is used again.
    expect(await engine.store.head()).toBeGreaterThanOrEqual(ids.length * 11);
    for (const batch of await batches(engine))
      expect(batch.versions).toEqual(batch.events.map((e) => [e.stream, e.version]));
    const name = engine.db.name;
    engine.close();
    const again = await open({ dbName: name });
    expect((await listCounters(again)).map((row) => row.id).sort()).toEqual([...kept].sort());
    for (const id of kept)
      expect((await again.history(id)).map((line) => line.version)).toHaveLength(11);
  });

  it('a rebase rewrites pending events held in batches', async () => {
    const engine = await openSyncing();
    const id = ids[0]!;
    const created = await engine.execute(id, { type: 'create', name: 'Rebased' });
    if (created.type !== 'accepted') throw new Error('create was rejected');
    const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
      event as EventEnvelope<CounterEvent>;
    await engine.receive(id, created.events.map(strip));
    // Pending counts, made in a burst beside another counter's: batches of both streams.
    await engine.execute(ids[1]!, { type: 'create', name: 'Beside' });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => engine.execute(ids[i % 2]!, { type: 'increment' })),
    );
    expect(results.every((r) => r.type === 'accepted')).toBe(true);
    expect((await batches(engine)).some((b) => b.events.some((e) => e.stream === id))).toBe(true);
    const theirs: EventEnvelope<CounterEvent> = {
      id: 'evt-theirs-batch-01',
      stream: id,
      version: 2,
      type: 'Incremented',
      data: { amount: 5 },
      meta: { time: 1, device: 'device-other-1', command: 'cmd-theirs-batch-01', schema: 1 },
    } as EventEnvelope<CounterEvent>;
    expect(await engine.receive(id, [theirs])).toMatchObject({
      type: 'applied',
      confirmed: 2,
      version: 12,
    });
    const events = (await records(engine)).flatMap(eventsOf);
    const mine = events.filter((e) => e.stream === id).sort((a, b) => a.version - b.version);
    expect(mine.map((e) => e.version)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(events.filter((e) => e.stream === ids[1])).toHaveLength(11);
    expect(new Set(events.map((e) => e.position)).size).toBe(events.length);
    const rows = await listCounters(engine);
    expect(rows.find((row) => row.id === id)?.value).toBe(15);
    expect(rows.find((row) => row.id === ids[1])?.value).toBe(10);
  });

  it('a damaged batch is named, not misread', async () => {
    const engine = await open();
    await burst(engine, 2);
    const batch = (await batches(engine))[0]!;
    const stream = batch.events[0]!.stream;
    await engine.db.put('events', { ...batch, events: 'lost' } as never);
    await expect(engine.history(stream)).rejects.toThrow(/stored batch of events is damaged/);
  });
});
