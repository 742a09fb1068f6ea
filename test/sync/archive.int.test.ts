import { describe, expect, it } from 'vitest';
import { counterId, listCounters } from '../helpers/engine.ts';
import {
  converged,
  deviceFixture,
  inviteOf,
  serverStreams,
  streamsOf,
  synced,
  type Device,
} from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { waitFor } from '../server/fixtures.ts';

const sync = syncServerFixture();
const device = deviceFixture();

const water = counterId('water');

/** Two devices of one space that both show "Water" at 3. */
async function pairedWithWater(): Promise<{ a: Device; b: Device; space: string }> {
  const a = await device();
  const b = await device();
  await a.engine.execute(water, [
    { type: 'create', name: 'Water' },
    { type: 'increment', amount: 3 },
  ]);
  const { space, pairingLink } = await a.sync.startSync(sync.url);
  await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
  await waitFor(async () => (await listCounters(b.engine)).length === 1, 'b to see Water');
  await Promise.all([synced(a), synced(b)]);
  return { a, b, space };
}

const rowOf = async (device: Device) =>
  (await listCounters(device.engine)).find((row) => row.id === water);

describe('archive and restore sync like any change', () => {
  it('archived on one device, restored on the other, with its count', async () => {
    const { a, b, space } = await pairedWithWater();
    expect(await a.engine.execute(water, { type: 'archive' })).toMatchObject({ type: 'accepted' });
    await waitFor(async () => (await rowOf(b))?.archived === true, 'b to see Water archived');
    // Archived everywhere: no device takes a command for it.
    expect(await b.engine.execute(water, { type: 'increment' })).toEqual({
      type: 'rejected',
      code: 'rejected',
      reason: '“Water” is archived: restore it to change it.',
    });

    expect(await b.engine.execute(water, { type: 'restore' })).toMatchObject({ type: 'accepted' });
    await waitFor(async () => (await rowOf(a))?.archived === undefined, 'a to see Water back');
    expect(await rowOf(a)).toMatchObject({ name: 'Water', value: 3 });
    await converged([a, b], sync.redis, space);
  });

  it('a change made offline meets the other device’s archive: rejected after sync, saying why', async () => {
    const { a, b, space } = await pairedWithWater();
    b.sync.setOnline(false);
    expect(await b.engine.execute(water, { type: 'increment' })).toMatchObject({
      type: 'accepted',
    });
    await a.engine.execute(water, { type: 'archive' });
    await synced(a);
    b.sync.setOnline(true);
    await converged([a, b], sync.redis, space);
    expect(await rowOf(b)).toMatchObject({ value: 3, archived: true });
    expect(b.sync.current().rejected).toMatchObject([
      { stream: water, name: 'Water', reason: '“Water” is archived: restore it to change it.' },
    ]);
  });

  it('an archived counter keeps its name: a new one of that name is refused, saying where it is', async () => {
    const a = await device();
    await a.engine.execute(water, [{ type: 'create', name: 'Water' }, { type: 'archive' }]);
    expect(await a.engine.execute(counterId(2), { type: 'create', name: 'water' })).toMatchObject({
      type: 'rejected',
      reason:
        'There is already a counter named “water” in your archived counters: restore it, or delete it forever to free the name.',
    });
  });
});

describe('delete forever', () => {
  it('reaches every device; one that was offline drops its changes and pushes nothing back', async () => {
    const { a, b, space } = await pairedWithWater();
    const other = counterId('tea');
    await a.engine.execute(other, { type: 'create', name: 'Tea' });
    await Promise.all([synced(a), waitFor(async () => (await rowOf(b)) !== undefined, 'b')]);
    await synced(b);

    b.sync.setOnline(false);
    await b.engine.execute(water, { type: 'increment' });
    await a.engine.execute(water, { type: 'archive' });
    await synced(a);
    await a.sync.deleteStream(water).then(() => a.engine.forget(water));
    expect(await rowOf(a)).toBeUndefined();
    expect(Object.keys(await serverStreams(sync.redis, space))).toEqual([other]);

    b.sync.setOnline(true);
    const streams = await converged([a, b], sync.redis, space);
    expect(Object.keys(streams)).toEqual([other]);
    expect(await rowOf(b)).toBeUndefined();
    expect(Object.keys(await streamsOf(b.engine))).toEqual([other]);
    // The +1 made offline is not kept, and b says so, naming the counter.
    await waitFor(() => b.sync.current().rejected.length === 1, 'b to tell of the dropped change');
    expect(b.sync.current()).toMatchObject({
      pending: 0,
      rejected: [
        {
          stream: water,
          name: 'Water',
          reason: '“Water” was deleted forever, so one change made to it here could not be kept.',
        },
      ],
    });
    expect(a.sync.current().rejected).toEqual([]);
    // Its name is free again on both.
    for (const device of [a, b])
      expect(
        await device.engine.execute(counterId(`w${device.name}`), {
          type: 'create',
          name: 'Water',
        }),
      ).toMatchObject({ type: 'accepted' });
  });

  it('an engine refuses to delete a counter that is not archived, or whose archive is not synced yet', async () => {
    const { a } = await pairedWithWater();
    const { deleteForever } = await import('../../worker/delete-forever.ts');
    await expect(deleteForever(a.engine, a.sync, water)).rejects.toThrow(
      'Only an archived counter can be deleted forever, and “Water” is not archived.',
    );
    a.sync.setOnline(false);
    await a.engine.execute(water, { type: 'archive' });
    await expect(deleteForever(a.engine, a.sync, water)).rejects.toThrow(
      '“Water” is archived here, but the sync server has not heard of it yet. Try again once this device is synced.',
    );
    expect(await rowOf(a)).toMatchObject({ archived: true, value: 3 });
    a.sync.setOnline(true);
    await synced(a);
    await deleteForever(a.engine, a.sync, water);
    expect(await rowOf(a)).toBeUndefined();
    expect(await a.engine.readAfter(0)).toEqual([]);
  });

  it('a backup of it imported afterwards is dropped once by sync, saying why, not pushed again and again', async () => {
    const { a, b, space } = await pairedWithWater();
    const { exportBackup, importBackup } = await import('../../worker/backup.ts');
    const { deleteForever } = await import('../../worker/delete-forever.ts');
    const backup = await exportBackup(a.engine);
    await a.engine.execute(water, { type: 'archive' });
    await synced(a);
    await deleteForever(a.engine, a.sync, water);
    await waitFor(async () => (await rowOf(b)) === undefined, 'b to drop Water');
    // The tombstone reached this device through the feed too: remembered as applied there.
    await synced(a);

    expect(await importBackup(a.engine, backup)).toMatchObject({ events: 2 });
    expect(await rowOf(a)).toMatchObject({ name: 'Water', value: 3 });
    // Its push meets the tombstone: the import is dropped here, once, and the device says so.
    await waitFor(
      () => a.sync.current().rejected.length === 1 && a.sync.current().pending === 0,
      'a to drop the imported Water, saying why',
    );
    expect(a.sync.current().rejected).toMatchObject([{ stream: water, name: 'Water' }]);
    expect(a.sync.current().rejected[0]!.reason).toMatch(/deleted forever/);
    expect(await rowOf(a)).toBeUndefined();
    const streams = await converged([a, b], sync.redis, space);
    expect(Object.keys(streams)).toEqual([]);
  });

  it('on a device that never synced, deletes here only', async () => {
    const a = await device();
    const { deleteForever } = await import('../../worker/delete-forever.ts');
    await a.engine.execute(water, [{ type: 'create', name: 'Water' }, { type: 'archive' }]);
    await deleteForever(a.engine, a.sync, water);
    expect(await a.engine.readAfter(0)).toEqual([]);
    expect(await a.sync.current().pending).toBe(0);
  });
});
