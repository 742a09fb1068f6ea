import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../worker/engine.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { waitFor } from '../server/fixtures.ts';

const fixture = syncServerFixture();

const devices: Device[] = [];
const device = async () => {
  const opened = await openDevice();
  devices.push(opened);
  return opened;
};

afterEach(async () => {
  for (const opened of devices.splice(0)) await opened.close();
});

const inviteOf = (link: string) => decodeURIComponent(link.split('#pair=')[1]!);
/** `name = value` for every counter, sorted: what a person sees. */
const shown = async (engine: Engine) =>
  (await listCounters(engine)).map((row) => `${row.name} = ${row.value}`).sort();

async function count(engine: Engine, id: string, name: string, times: number) {
  await engine.execute(id, { type: 'create', name });
  for (let i = 0; i < times; i++) await engine.execute(id, { type: 'increment' });
}

describe('pairing two devices that already hold data', () => {
  it('keeps both counters of one name (any letter case), and every count in them', async () => {
    const a = await device();
    const b = await device();
    await count(a.engine, counterId('a-milk'), 'Milk', 1);
    await count(b.engine, counterId('b-milk'), 'milk', 3);
    await count(b.engine, counterId('b-water'), 'Water', 1);
    const { space, pairingLink } = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, inviteOf(pairingLink));
    await Promise.all([synced(a), synced(b)]);
    await converged([a, b], fixture.redis, space);
    // The one made later is renamed the same way on both; nothing is rejected or lost.
    const expected = ['Milk = 1', 'Water = 1', 'milk (2) = 3'];
    await waitFor(
      async () =>
        JSON.stringify(await shown(a.engine)) === JSON.stringify(expected) &&
        JSON.stringify(await shown(b.engine)) === JSON.stringify(expected),
      'both devices to show every counter with its count',
    );
    await converged([a, b], fixture.redis, space);
    expect([...a.sync.current().rejected, ...b.sync.current().rejected]).toEqual([]);
  });
});

describe('switching spaces', () => {
  it('a device that leaves and starts a new space takes everything it shows there', async () => {
    const a = await device();
    const b = await device();
    await count(a.engine, counterId('a-tea'), 'Tea', 2);
    const first = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, inviteOf(first.pairingLink));
    await count(b.engine, counterId('b-laps'), 'Laps', 4);
    await converged([a, b], fixture.redis, first.space);
    await waitFor(async () => (await shown(a.engine)).length === 2, 'a to have both counters');

    await a.sync.leaveSpace();
    const second = await a.sync.startSync(fixture.url);
    expect(second.space).not.toBe(first.space);
    const c = await device();
    await c.sync.joinSpace(fixture.url, inviteOf(second.pairingLink));
    await Promise.all([synced(a), synced(c)]);
    await converged([a, c], fixture.redis, second.space);
    // The new space holds every counter the leaving device showed, with its whole history.
    expect(await shown(c.engine)).toEqual(['Laps = 4', 'Tea = 2']);
    expect(await shown(a.engine)).toEqual(['Laps = 4', 'Tea = 2']);
    // And the old space goes on for the device still in it.
    expect(await shown(b.engine)).toEqual(['Laps = 4', 'Tea = 2']);
  });
});

describe('joining another space from a space', () => {
  it('redeems the invite first: a used one leaves the device syncing where it was', async () => {
    const a = await device();
    const b = await device();
    const c = await device();
    await count(a.engine, counterId('a-pages'), 'Pages', 1);
    const first = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, inviteOf(first.pairingLink));
    const second = await c.sync.startSync(fixture.url);
    const link = inviteOf(second.pairingLink);
    await c.sync.pairDevice(); // c's panel moves on; the first invite stays pending
    const d = await device();
    await d.sync.joinSpace(fixture.url, link); // the invite is used now
    await Promise.all([synced(a), synced(b)]);

    await expect(b.sync.joinSpace(fixture.url, link)).rejects.toThrow();
    expect(b.sync.current().space).toBe(first.space);
    // Still a member of the first space: what it counts there reaches a.
    await b.engine.execute(counterId('a-pages'), { type: 'increment' });
    await synced(b);
    await waitFor(async () => (await shown(a.engine))[0] === 'Pages = 2', 'a to see b’s count');

    // With a fresh invite it leaves the first space (its token is revoked there) and joins.
    await b.sync.joinSpace(fixture.url, inviteOf((await c.sync.pairDevice()).pairingLink));
    expect(b.sync.current().space).toBe(second.space);
    await converged([b, c], fixture.redis, second.space);
    expect(await shown(c.engine)).toEqual(['Pages = 2']);
    expect((await a.sync.devices()).devices).toHaveLength(1);
  });
});

describe('a join sent twice', () => {
  it('(a tab re-sending it after its leader went away) joins once, and both calls succeed', async () => {
    const a = await device();
    const b = await device();
    await count(a.engine, counterId('a-cups'), 'Cups', 1);
    const { space, pairingLink } = await a.sync.startSync(fixture.url);
    const invite = inviteOf(pairingLink);
    await Promise.all([
      b.sync.joinSpace(fixture.url, invite),
      b.sync.joinSpace(fixture.url, invite),
    ]);
    expect(b.sync.current().space).toBe(space);
    await converged([a, b], fixture.redis, space);
    expect(await shown(b.engine)).toEqual(['Cups = 1']);
    expect((await a.sync.devices()).devices).toHaveLength(2);
  });
});

describe('joining another space when this device cannot leave its own', () => {
  it('gives the new token back and syncs on in its space', async () => {
    const a = await device();
    const b = await device();
    const c = await device();
    await count(a.engine, counterId('a-laps'), 'Laps', 1);
    const first = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, inviteOf(first.pairingLink));
    const second = await c.sync.startSync(fixture.url);
    await Promise.all([synced(a), synced(b), synced(c)]);
    // A damaged stream head: leaving (which lowers every confirmed head) cannot finish here.
    await b.engine.db.put('streams', { stream: counterId('broken'), version: 'x' } as never);

    await expect(
      b.sync.joinSpace(fixture.url, inviteOf((await c.sync.pairDevice()).pairingLink)),
    ).rejects.toThrow(/damaged|stored/i);
    // Still in the first space, still syncing there; the second space never lists it.
    expect(b.sync.current().space).toBe(first.space);
    await b.engine.execute(counterId('a-laps'), { type: 'increment' });
    await synced(b);
    await waitFor(async () => (await shown(a.engine))[0] === 'Laps = 2', 'a to see b’s count');
    expect((await c.sync.devices()).devices).toHaveLength(1);
    expect(second.space).not.toBe(first.space);
  });
});

describe('removing a device', () => {
  it('the removed device is told, keeps its counters, stops receiving, and can join again', async () => {
    const a = await device();
    const b = await device();
    await count(a.engine, counterId('a-run'), 'Runs', 1);
    const { space, pairingLink } = await a.sync.startSync(fixture.url);
    await b.sync.joinSpace(fixture.url, inviteOf(pairingLink));
    // A third device stays in the space: what it receives, b would have received by then.
    const c = await device();
    await c.sync.joinSpace(fixture.url, inviteOf((await a.sync.pairDevice()).pairingLink));
    await Promise.all([synced(a), synced(b), synced(c)]);
    const { devices, self } = await a.sync.devices();
    expect(devices).toHaveLength(3);
    const bId = (await b.sync.devices()).self;
    const other = devices.find((d) => d.id === bId && d.id !== self)!;
    await a.sync.removeDevice(other.id);
    // b learns it at its next request (its live feed ends at once, then it reconnects).
    await waitFor(
      () => b.sync.current().state === 'off' && /removed/.test(b.sync.current().lastError ?? ''),
      'b to say it was removed',
    );
    expect(await shown(b.engine)).toEqual(['Runs = 1']);
    // a goes on counting; c receives it, b does not.
    await a.engine.execute(counterId('a-run'), { type: 'increment' });
    await synced(a);
    await waitFor(async () => (await shown(c.engine))[0] === 'Runs = 2', 'c to receive a’s count');
    expect(await shown(b.engine)).toEqual(['Runs = 1']);
    expect((await a.sync.devices()).devices).toHaveLength(2);
    // With a new invite b joins again, and catches up.
    await b.sync.joinSpace(fixture.url, inviteOf((await a.sync.pairDevice()).pairingLink));
    await converged([a, b], fixture.redis, space);
    await waitFor(async () => (await shown(b.engine))[0] === 'Runs = 2', 'b to catch up');
  });
});
