import { describe, expect, it } from 'vitest';
import { counterId, dumpDatabase, engineFixture, listCounters } from '../helpers/engine.ts';
import { TallyError } from '../../core/errors.ts';
import { counterCodec } from '../../core/models/counter/codec.ts';
import type { EventBatch } from '../../worker/event-records.ts';

const open = engineFixture();

describe('engine', () => {
  it('acks 1,000 concurrent commands on one aggregate, exact value, versions 1..N', async () => {
    const engine = await open();
    const id = counterId(1);
    await engine.execute(id, { type: 'create', name: 'Busy' });
    // Many simulated callers, each firing a burst without waiting for the others.
    const callers = Array.from({ length: 20 }, async (_, caller) => {
      const results = [];
      for (let burst = 0; burst < 5; burst++) {
        results.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, () => engine.execute(id, { type: 'increment' })),
          )),
        );
      }
      return { caller, results };
    });
    const all = (await Promise.all(callers)).flatMap((c) => c.results);
    expect(all).toHaveLength(1_000);
    expect(all.every((r) => r.type === 'accepted')).toBe(true);
    const versions = all.map((r) => (r.type === 'accepted' ? r.version : -1)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 2));
    const [row] = await listCounters(engine);
    expect(row).toMatchObject({ id, name: 'Busy', value: 1_000, version: 1_001 });
    const history = await engine.history(id);
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 1_001 }, (_, i) => i + 1));
    // Group commit: far fewer transactions than commits.
    expect(engine.store.transactions).toBeLessThan(200);
  });

  it('a rejection writes nothing and leaves state unchanged', async () => {
    const engine = await open();
    const id = counterId(2);
    await engine.execute(id, { type: 'create', name: 'Zero' });
    const before = await dumpDatabase(engine.db);
    const result = await engine.execute(id, [
      { type: 'increment' },
      { type: 'decrement' },
      { type: 'decrement' },
    ]);
    expect(result).toEqual({
      type: 'rejected',
      code: 'rejected',
      reason: '“Zero” is already at zero.',
    });
    expect(await dumpDatabase(engine.db)).toBe(before);
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 2,
    });
  });

  it('an atomic batch writes all its events in one commit', async () => {
    const engine = await open();
    const id = counterId(3);
    await engine.execute(id, { type: 'create', name: 'Pair' });
    const result = await engine.execute(
      id,
      [{ type: 'increment' }, { type: 'increment' }],
      'cmd-add-two-1',
    );
    expect(result).toMatchObject({ type: 'accepted', version: 3 });
    const history = await engine.history(id);
    expect(history.slice(1).map((h) => h.value)).toEqual([1, 2]);
    const events = await engine.readAfter(0);
    expect(events.filter((e) => e.meta.command === 'cmd-add-two-1')).toHaveLength(2);
  });

  it('keeps names unique across counters, even when created concurrently', async () => {
    const engine = await open();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        engine.execute(counterId(100 + i), { type: 'create', name: 'Same' }),
      ),
    );
    expect(results.filter((r) => r.type === 'accepted')).toHaveLength(1);
    expect(results.filter((r) => r.type === 'rejected')).toHaveLength(9);
    expect(await listCounters(engine)).toHaveLength(1);
  });

  it('frees a name on rename so another counter may take it', async () => {
    const engine = await open();
    await engine.execute(counterId(1), { type: 'create', name: 'Tea' });
    await engine.execute(counterId(1), { type: 'rename', name: 'Green tea' });
    expect(await engine.execute(counterId(2), { type: 'create', name: 'tea' })).toMatchObject({
      type: 'accepted',
    });
    expect(await engine.execute(counterId(2), { type: 'rename', name: 'GREEN TEA' })).toMatchObject(
      { type: 'rejected' },
    );
  });

  it('rejects a bad stream id and an empty batch as invalid', async () => {
    const engine = await open();
    await expect(engine.execute('../etc/passwd', { type: 'increment' })).rejects.toMatchObject({
      code: 'invalid',
    });
    await expect(engine.execute(counterId(1), [])).rejects.toMatchObject({ code: 'invalid' });
  });

  it('bounds resident actors and loses nothing while evicting under load', async () => {
    const engine = await open({ maxResident: 3, snapshotEvery: 7 });
    const ids = Array.from({ length: 12 }, (_, i) => counterId(i));
    await Promise.all(ids.map((id, i) => engine.execute(id, { type: 'create', name: `C${i}` })));
    const work = [];
    for (let round = 0; round < 25; round++)
      for (const id of ids) work.push(engine.execute(id, { type: 'increment' }));
    const results = await Promise.all(work);
    expect(results.every((r) => r.type === 'accepted')).toBe(true);
    expect(engine.resident).toBeLessThanOrEqual(3);
    const rows = await listCounters(engine);
    expect(rows.map((r) => r.value)).toEqual(ids.map(() => 25));
    for (const id of ids)
      expect((await engine.history(id)).map((h) => h.version)).toEqual(
        Array.from({ length: 26 }, (_, i) => i + 1),
      );
  });

  it('a reopened engine loads from snapshot plus tail and carries on', async () => {
    const first = await open({ snapshotEvery: 10 });
    const id = counterId(9);
    await first.execute(id, { type: 'create', name: 'Long' });
    for (let i = 0; i < 34; i++) await first.execute(id, { type: 'increment' });
    const name = first.db.name;
    first.close();
    const second = await open({ dbName: name, snapshotEvery: 10 });
    const snapshot = await second.db.get('snapshots', id);
    expect(snapshot?.version).toBe(30);
    expect(await second.execute(id, { type: 'decrement' })).toMatchObject({
      type: 'accepted',
      version: 36,
    });
    const [row] = await listCounters(second);
    expect(row?.value).toBe(33);
  });

  it('a second writer with a stale expected version gets a conflict and corrupts nothing', async () => {
    const engine = await open();
    const id = counterId(5);
    await engine.execute(id, { type: 'create', name: 'Shared' });
    await engine.execute(id, { type: 'increment' });
    await engine.store.writeBehind();
    // A second engine on the same database: the situation the Web Lock exists to prevent.
    const intruder = await open({ dbName: engine.db.name, device: 'device-intruder' });
    await intruder.execute(id, { type: 'increment' }); // loads at v2, writes v3
    await intruder.store.writeBehind();
    const before = await dumpDatabase(engine.db);
    const stale = engine.execute(id, { type: 'increment' }); // still believes v2
    await expect(stale).rejects.toBeInstanceOf(TallyError);
    await expect(stale).rejects.toMatchObject({ code: 'conflict' });
    expect(await dumpDatabase(engine.db)).toBe(before);
    // The actor reloads after a failed commit and carries on from the durable state.
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({
      type: 'accepted',
      version: 4,
    });
    const versions = (await engine.history(id)).map((h) => h.version);
    expect(versions).toEqual([1, 2, 3, 4]);
  });

  it('names a corrupt stored event instead of returning garbage', async () => {
    const engine = await open();
    const id = counterId(6);
    await engine.execute(id, { type: 'create', name: 'Fragile' });
    const tx = engine.db.transaction('events', 'readwrite');
    const record = (await tx.store.get(1))! as EventBatch;
    const event = record.events[0]!;
    await tx.store.put({ ...record, events: [{ ...event, type: 'Exploded' }] } as never);
    await tx.done;
    await expect(engine.history(id)).rejects.toThrow(
      /Unknown event type “Exploded” \(stream counter-c0000006, version 1\)/,
    );
    expect(() => counterCodec.decode({ ...event, position: undefined })).toThrow();
  });

  it('follows everything committed after a position', async () => {
    const engine = await open();
    await engine.execute(counterId(1), { type: 'create', name: 'A' });
    const mark = await engine.store.position();
    await engine.execute(counterId(2), { type: 'create', name: 'B' });
    await engine.execute(counterId(1), { type: 'increment' });
    const after = await engine.readAfter(mark);
    expect(after.map((e) => [e.stream, e.version, e.position])).toEqual([
      [counterId(2), 1, mark + 1],
      [counterId(1), 2, mark + 2],
    ]);
  });
});
