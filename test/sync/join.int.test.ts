import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../worker/engine.ts';
import { ModelSet } from '../../core/model.ts';
import { models } from '../../core/models/index.ts';
import { SyncManager } from '../../worker/sync-manager.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { deleteForever } from '../../worker/delete-forever.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import {
  converged,
  inviteOf,
  openDevice,
  serverStreams,
  streamsOf,
  synced,
  testSyncOptions,
  type Device,
} from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { waitFor } from '../server/fixtures.ts';

/**
 * Joining a space from its snapshots (docs/architecture.md, "Joining a space"), on fake
 * IndexedDB devices against the real server and a real Redis.
 */
// The file's Redis, or the shared cluster in the `cluster` project.
const sync = syncServerFixture();
const devices: Device[] = [];

const device = async (options?: Parameters<typeof openDevice>[0]) => {
  const opened = await openDevice(options);
  devices.push(opened);
  return opened;
};

/**
 * The same device's database opened again: what a reload or a restarted browser does (with
 * `models`, a build whose models changed since).
 */
async function reopen(old: Device, models?: ModelSet): Promise<Device> {
  const dbName = old.engine.db.name;
  await old.close();
  devices.splice(devices.indexOf(old), 1);
  const engine = await Engine.open({ dbName, device: old.name, ...(models ? { models } : {}) });
  const sync = new SyncManager(new IndexedDBSyncStorage(engine), testSyncOptions);
  await sync.resume();
  const opened: Device = {
    name: old.name,
    engine,
    sync,
    async close() {
      await sync.stop();
      await engine.stop();
    },
  };
  devices.push(opened);
  return opened;
}

afterEach(async () => {
  for (const opened of devices.splice(0)) await opened.close();
});

const values = async (d: Device) =>
  Object.fromEntries((await listCounters(d.engine)).map((row) => [row.id, row.value]));
const eventsHeld = async (d: Device) => (await d.engine.store.readAfter(0, 1_000_000)).length;

/** A device with `counters` counters, each incremented `each` times, synced into a new space. */
async function spaceWithHistory(counters: number, each: number, from = 0) {
  const a = await device();
  for (let n = from; n < from + counters; n++) {
    const id = counterId(n);
    await a.engine.execute(id, { type: 'create', name: `Counter ${n}` });
    await a.engine.execute(
      id,
      Array.from({ length: each + (n % 3) }, () => ({ type: 'increment' })),
    );
  }
  const { space, pairingLink } = await a.sync.startSync(sync.url);
  await synced(a);
  return { a, space, invite: inviteOf(pairingLink) };
}

describe('joining a space from its snapshots', () => {
  it('takes every counter at its value without storing the events below the snapshot', async () => {
    const { a, space, invite } = await spaceWithHistory(12, 40);
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    expect(await values(b)).toEqual(await values(a));
    // 12 counters and ~500 events on the server; none of them below a snapshot is stored here.
    expect((await b.engine.bases()).map((base) => base.stream).sort()).toEqual(
      Object.keys(await values(a)).sort(),
    );
    expect(await eventsHeld(b)).toBe(0);
    // The bases are exactly the server's history (ids and folds): see `converged`.
    await converged([a, b], sync.redis, space);

    // A based counter takes commands and syncs both ways.
    const id = counterId(3);
    await b.engine.execute(id, { type: 'increment' });
    await a.engine.execute(counterId(4), { type: 'decrement' });
    await converged([a, b], sync.redis, space);
    expect(await values(b)).toEqual(await values(a));
    expect((await values(a))[id]).toBe(40 + 1);
  });

  it('a based counter edited offline on both devices rebases from its snapshot', async () => {
    const { a, space, invite } = await spaceWithHistory(2, 0, 100);
    const id = counterId(100);
    // At 1: two offline decrements, only one can stand.
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    expect((await b.engine.bases()).length).toBe(2);
    a.sync.setOnline(false);
    b.sync.setOnline(false);
    await a.engine.execute(id, { type: 'decrement' });
    await b.engine.execute(id, { type: 'decrement' });
    await b.engine.execute(id, { type: 'increment' });
    a.sync.setOnline(true);
    await synced(a);
    // B pushes after A: its decrement meets A's, is re-decided on the base and rejected.
    b.sync.setOnline(true);
    await converged([a, b], sync.redis, space);
    expect((await values(a))[id]).toBe(1);
    expect((await values(b))[id]).toBe(1);
    expect(b.sync.current().rejected).toMatchObject([
      { stream: id, name: 'Counter 100', reason: expect.stringMatching(/zero/) },
    ]);
    // Still based (nothing asked for its early history), and still right after a reload.
    const again = await reopen(b);
    expect((await again.engine.bases()).length).toBe(2);
    expect((await values(again))[id]).toBe(1);
    await again.engine.execute(id, { type: 'increment' });
    await converged([a, again], sync.redis, space);
  });

  it('reads a counter’s history below its snapshot when asked, and takes it all when leaving', async () => {
    const { a, space, invite } = await spaceWithHistory(3, 5, 200);
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    const id = counterId(201);
    expect(await b.sync.fillBases([id])).toBe(0);
    expect((await b.engine.bases()).map((base) => base.stream)).not.toContain(id);
    expect((await streamsOf(b.engine))[id]).toEqual((await serverStreams(sync.redis, space))[id]);
    // Created, then five increments (counter 201 of `spaceWithHistory`).
    expect((await b.engine.history(id)).map((line) => line.value)).toEqual([0, 1, 2, 3, 4, 5]);

    // Leaving reads the rest, so every counter goes to the next space whole.
    await b.engine.execute(counterId(202), { type: 'increment' });
    await b.sync.leaveSpace();
    expect(await b.engine.bases()).toEqual([]);
    const next = await b.sync.startSync(sync.url);
    await synced(b);
    const held = await streamsOf(b.engine);
    expect(Object.keys(held).sort()).toEqual(Object.keys(await values(a)).sort());
    expect(await serverStreams(sync.redis, next.space)).toEqual(held);
    // Six increments made on A (counter 202), and B's one.
    expect((await values(b))[counterId(202)]).toBe(7);
  });

  it('a space the server cannot snapshot is read from its feed, as before', async () => {
    const { a, space, invite } = await spaceWithHistory(3, 4, 300);
    // As a space written before the index existed looks: the feed holds more than it counted.
    await sync.redis.client.hset(`tally:{${space}}:snaps`, '~appended', '0');
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    expect(await b.engine.bases()).toEqual([]);
    expect(await streamsOf(b.engine)).toEqual(await streamsOf(a.engine));
    await converged([a, b], sync.redis, space);
  });

  it('a based counter deleted forever on another device goes here too', async () => {
    const { a, space, invite } = await spaceWithHistory(2, 3, 400);
    const id = counterId(400);
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    await a.engine.execute(id, { type: 'archive' });
    await synced(a);
    await waitFor(
      async () => (await listCounters(b.engine)).find((row) => row.id === id)?.archived === true,
      'b to see the archive',
    );
    await deleteForever(a.engine, a.sync, id);
    await waitFor(
      async () => !(await b.engine.bases()).some((base) => base.stream === id),
      'the base to go on b',
    );
    expect((await listCounters(b.engine)).map((row) => row.id)).not.toContain(id);
    await converged([a, b], sync.redis, space);
  });

  it('a join cut short between pages is taken up again, and misses nothing', async () => {
    // More streams than one page holds (500).
    const a = await device();
    for (let n = 0; n < 620; n++)
      await a.engine.execute(counterId(1000 + n), { type: 'create', name: `Page ${n}` });
    await a.engine.execute(counterId(1619), { type: 'increment' });
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await synced(a, 60_000);
    let cut = 0;
    const b = await device({
      fetch: (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        // The second page fails once: the device has installed the first one by then.
        if (/\/snapshots\?page=(?!0\b)/.test(url) && cut++ === 0)
          return Promise.reject(new TypeError('Failed to fetch'));
        return fetch(input, init);
      },
    });
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    await synced(b, 60_000);
    expect(cut).toBeGreaterThan(1);
    expect((await b.engine.bases()).length).toBe(620);
    expect(await values(b)).toEqual(await values(a));
    await converged([a, b], sync.redis, space, 60_000);
  });

  it('a join cut short follows the feed from its first attempt: a counter deleted between the two goes', async () => {
    const a = await device();
    for (let n = 0; n < 560; n++)
      await a.engine.execute(counterId(3000 + n), { type: 'create', name: `Gone ${n}` });
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await synced(a, 60_000);
    let cut = false;
    let failure: unknown;
    const b: Device = await device({
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (!cut && /\/snapshots\?page=(?!0\b)/.test(url)) {
          cut = true;
          // Between the two attempts, one of the counters b has installed is deleted forever.
          try {
            const [first] = await b.engine.bases();
            await a.engine.execute(first!.stream, { type: 'archive' });
            await waitFor(
              async () => (await a.engine.store.beside(() => a.engine.db.count('outbox'))) === 0,
              'the archive to reach the server',
            );
            await deleteForever(a.engine, a.sync, first!.stream);
          } catch (error) {
            failure = error;
          }
          throw new TypeError('Failed to fetch');
        }
        return fetch(input, init);
      },
    });
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    await synced(b, 60_000);
    expect(cut).toBe(true);
    expect(failure).toBeUndefined();
    await converged([a, b], sync.redis, space, 60_000);
    expect((await listCounters(b.engine)).length).toBe(559);
  });

  it('counters tied to a space left offline wait for it, and neither block nor pass as another space’s', async () => {
    const { a, invite } = await spaceWithHistory(2, 3, 500);
    let serverAway = false;
    const b = await device({
      fetch: (input, init) =>
        serverAway ? Promise.reject(new TypeError('Failed to fetch')) : fetch(input, init),
    });
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    const tied = counterId(500);
    // Moving to another space needs the early history first: refused before the invite is used.
    const other = await device();
    await other.engine.execute(counterId(599), { type: 'create', name: 'Elsewhere' });
    const elsewhere = await other.sync.startSync(sync.url);
    serverAway = true;
    // (Only the early history is away: the invite is redeemed first only when it can go along.)
    await expect(b.sync.joinSpace(sync.url, inviteOf(elsewhere.pairingLink))).rejects.toThrow(
      /early history/,
    );
    // Leaving without the server keeps them here, tied to the space, and says so.
    expect((await b.sync.leaveSpace()).note).toMatch(/rejoins that space/);
    expect((await b.engine.bases()).length).toBe(2);
    // A thousand changes to a tied counter take none of a push's room in the next space.
    await b.engine.execute(
      tied,
      Array.from({ length: 1_000 }, () => ({ type: 'increment' })),
    );
    await b.engine.execute(counterId(598), { type: 'create', name: 'Mine' });
    serverAway = false;
    const next = await b.sync.startSync(sync.url);
    await waitFor(
      async () => Object.keys(await serverStreams(sync.redis, next.space)).includes(counterId(598)),
      'the new counter to reach the new space',
    );
    expect(Object.keys(await serverStreams(sync.redis, next.space))).not.toContain(tied);
    // Everything of this space is synced: what waits for the other space is not counted here.
    await synced(b);
    // The invite refused before is still good.
    await b.sync.joinSpace(sync.url, inviteOf(elsewhere.pairingLink));
    await waitFor(
      async () => (await values(b))[counterId(599)] === 0,
      'the other space to reach b',
    );
    // A never got the thousand (five increments of its own, counter 500).
    expect((await values(a))[tied]).toBe(5);
  });

  it('a counter joined in a shape this build no longer has is read from the server before syncing', async () => {
    const { a, space, invite } = await spaceWithHistory(2, 3, 700);
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    expect((await b.engine.bases()).length).toBe(2);
    // The same profile, after an update that changed the counter's state shape.
    const updated = new ModelSet(
      models.all.map((model) =>
        model.decider.name === 'counter'
          ? {
              ...model,
              decider: { ...model.decider, stateVersion: model.decider.stateVersion + 1 },
            }
          : model,
      ),
    );
    const again = await reopen(b, updated);
    const { engine } = again;
    await synced(again);
    expect(await engine.bases()).toEqual([]);
    await engine.execute(counterId(700), { type: 'increment' });
    await converged([a, again], sync.redis, space);
    expect((await values(again))[counterId(700)]).toBe(5);
  });

  it('a based counter deleted forever while this device did not follow the feed goes when it leaves', async () => {
    const { a, invite } = await spaceWithHistory(2, 2, 800);
    const gone = counterId(800);
    const b = await device();
    await b.sync.joinSpace(sync.url, invite);
    await synced(b);
    b.sync.setOnline(false);
    await a.engine.execute(gone, { type: 'archive' });
    await waitFor(
      async () => (await a.engine.store.beside(() => a.engine.db.count('outbox'))) === 0,
      'the archive to sync',
    );
    await deleteForever(a.engine, a.sync, gone);
    // Leaving reads every counter's early history; the deleted one answers 404: it goes here too.
    await b.sync.leaveSpace();
    expect(await b.engine.bases()).toEqual([]);
    expect((await listCounters(b.engine)).map((row) => row.id)).toEqual([counterId(801)]);
  });
});
