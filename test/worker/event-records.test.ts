import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import type { Engine } from '../../worker/engine.ts';
import {
  eventsOf,
  rangesEvents,
  recordsOf,
  streamEvents,
  type EventBatch,
  type StoredEventRecord,
} from '../../worker/event-records.ts';
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
    const all = stored.flatMap((record) => eventsOf(record));
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
    const batch = (await batches(engine)).find((b) => b.events.length > 1)!;
    const event = batch.events[1]!;
    const found = await engine.eventsOfCommand(event.stream, event.meta.command);
    expect(found.map((e) => e.id)).toEqual([event.id]);
  });

  it('deleting a counter forever takes its events out of shared batches and leaves the others whole', async () => {
    const engine = await open();
    await burst(engine);
    const [gone, ...kept] = ids;
    expect(await engine.forget(gone!)).toBe(11);
    const left = (await records(engine)).flatMap((record) => eventsOf(record));
    expect(left.filter((event) => event.stream === gone)).toEqual([]);
    expect(left).toHaveLength(kept.length * 11);
    // The store's position stays past every position used, so none is used again.
    expect(await engine.store.position()).toBeGreaterThanOrEqual(ids.length * 11);
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
    const events = (await records(engine)).flatMap((record) => eventsOf(record));
    const mine = events.filter((e) => e.stream === id).sort((a, b) => a.version - b.version);
    expect(mine.map((e) => e.version)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(events.filter((e) => e.stream === ids[1])).toHaveLength(11);
    expect(new Set(events.map((e) => e.position)).size).toBe(events.length);
    const rows = await listCounters(engine);
    expect(rows.find((row) => row.id === id)?.value).toBe(15);
    expect(rows.find((row) => row.id === ids[1])?.value).toBe(10);
  });

  it('a damaged batch is named, not misread, never written over, and does not keep a counter from being deleted', async () => {
    const engine = await open();
    await burst(engine, 2);
    const batch = (await batches(engine)).find((b) => b.events.length > 2)!;
    const stream = batch.events[0]!.stream;
    const damaged = { ...batch, events: 'lost' };
    await engine.db.put('events', damaged as never);
    await expect(engine.history(stream)).rejects.toThrow(
      /stored batch of events at position \d+ is damaged: it holds no list/,
    );
    // Deleting it forever takes its other events and leaves the damaged record as it was.
    await engine.forget(stream);
    expect(await engine.db.get('events', batch.position)).toEqual(damaged);
    expect((await listCounters(engine)).map((row) => row.id)).not.toContain(stream);
  });

  it('a version stored twice aborts the transaction that writes it, whichever records hold it', async () => {
    const engine = await open();
    const id = ids[0]!;
    await engine.execute(id, { type: 'create', name: 'Once' });
    const [record] = (await records(engine)) as EventBatch[];
    const copy = { ...record!.events[0]!, position: 99, id: 'evt-copy-0000001' };
    // As a batch beside the first (its [stream, version] in `byVersions` again).
    await expect(
      engine.db.add('events', { position: 99, events: [copy], versions: [[id, 1]] }),
    ).rejects.toThrow(/constraint/i);
    // As a record of one, as a store before batches held its events (`byStream`).
    await engine.db.add('events', { ...copy, version: 2, position: 98 });
    await expect(engine.db.add('events', { ...copy, version: 2, position: 97 })).rejects.toThrow(
      /constraint/i,
    );
  });

  it('a store written before batches (records of one) and after (batches) reads as one', async () => {
    const engine = await open();
    const id = ids[0]!;
    await engine.execute(id, { type: 'create', name: 'Old and new' });
    const [created] = (await records(engine)) as EventBatch[];
    // The create as an older build stored it: a record of one, keyed by its position.
    await engine.db.delete('events', created!.position);
    await engine.db.add('events', created!.events[0]!);
    const name = engine.db.name;
    engine.close();
    const again = await open({ dbName: name });
    await Promise.all(Array.from({ length: 5 }, () => again.execute(id, { type: 'increment' })));
    expect((await again.history(id)).map((line) => line.version)).toEqual([1, 2, 3, 4, 5, 6]);
    const page = await again.readAfter(0, 3);
    expect(page.map((event) => event.version)).toEqual([1, 2, 3]);
    expect((await again.readAfter(page.at(-1)!.position, 10)).map((e) => e.version)).toEqual([
      4, 5, 6,
    ]);
  });

  it('reads several streams at once as it reads each alone, each batch once', async () => {
    const engine = await open();
    await burst(engine);
    const store = () => engine.db.transaction('events').store;
    const ranges = ids.map((id, i) => [id, 1 + (i % 3), 11 - (i % 4)] as const);
    const together = await rangesEvents(store(), ranges);
    for (const [i, [id, from, to]] of ranges.entries()) {
      const alone = await streamEvents(store(), id, from, to);
      expect(together[i]).toEqual(alone);
      expect(alone.map((event) => event.version)).toEqual(
        Array.from({ length: to - from + 1 }, (_, v) => from + v),
      );
    }
  });

  it('a batch with an entry that is not an event, or an event outside its positions, is named; deleting its counter still works', async () => {
    const engine = await open();
    await burst(engine, 2);
    const batch = (await batches(engine)).find((b) => b.events.length > 3)!;
    await engine.db.put('events', {
      ...batch,
      events: [batch.events[0], null, ...batch.events.slice(2)],
    } as never);
    await expect(engine.history(batch.events[0]!.stream)).rejects.toThrow(/not an event/);
    await expect(engine.readAfter(0)).rejects.toThrow(/not an event/);
    await engine.forget(batch.events[0]!.stream);
    expect((await listCounters(engine)).map((row) => row.id)).not.toContain(
      batch.events[0]!.stream,
    );
    const other = (await batches(engine)).find((b) => b.events.length > 3 && b !== batch)!;
    await engine.db.put('events', {
      ...other,
      events: [{ ...other.events[0]!, position: other.position + 5 }, ...other.events.slice(1)],
    } as never);
    await expect(engine.readAfter(0)).rejects.toThrow(/outside it/);
  });

  it('writes at most 250 events to a record, keyed by its last', () => {
    const events = Array.from(
      { length: 600 },
      (_, i) => ({ stream: 's', version: i + 1, position: 1_000 + i }) as StoredEventRecord,
    );
    const made = recordsOf([...events].reverse());
    expect(made.map((record) => record.events.length)).toEqual([250, 250, 100]);
    expect(made.map((record) => record.position)).toEqual([1_249, 1_499, 1_599]);
    expect(made.flatMap((record) => record.events)).toEqual(events);
    // A version twice in one write: refused, as the index refuses it across records.
    expect(() => recordsOf([events[0]!, { ...events[0]!, position: 999 }])).toThrow(
      /s version 1 is written twice at once/,
    );
  });
});
