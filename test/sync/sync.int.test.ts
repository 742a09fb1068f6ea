import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/local-redis.ts';
import type { RunningServer } from '../../server/server.ts';
import { counterId, listCounters, openEngine } from '../helpers/engine.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { startRedisServer, type TestRedis } from '../helpers/redis-server.ts';
import { redisKeys } from '../../server/redis-store.ts';
import {
  childServer,
  converged,
  openDevice,
  serverStreams,
  streamsOf,
  synced,
  deviceOn,
  type Device,
} from '../helpers/sync.ts';
import { startTestServer, waitFor } from '../server/fixtures.ts';
import type { EventBatch } from '../../worker/event-records.ts';

let redis: TestRedis;
let server: RunningServer;
const devices: Device[] = [];

const device = async (...args: Parameters<typeof openDevice>) => {
  const opened = await openDevice(...args);
  devices.push(opened);
  return opened;
};

beforeAll(async () => {
  redis = await startRedisServer();
  server = await startTestServer(redis.url);
});
afterEach(async () => {
  for (const opened of devices.splice(0)) await opened.close();
});
afterAll(async () => {
  await server?.close();
  await redis?.dispose();
});

/** The id of the space feed's last entry. */
const serverCursor = async (redis: TestRedis, space: string) =>
  (await redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1))[0]?.[0];

const valueOf = async (d: Device, stream: string) =>
  (await listCounters(d.engine)).find((row) => row.id === stream)?.value;

describe('sync', () => {
  it('a counter at 1 decremented on two offline devices ends at 0, one decrement rejected after sync', async () => {
    const a = await device();
    const b = await device();
    const id = counterId(1);
    await a.engine.execute(id, { type: 'create', name: 'Coffee' });
    await a.engine.execute(id, { type: 'increment' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    // The link carries a pairing invite, never a device's own token.
    expect(pairingLink).toMatch(new RegExp(`^${server.url}/#pair=p1\\.${space}\\.`));
    const token = decodeURIComponent(pairingLink.split('#pair=')[1]!);
    await b.sync.joinSpace(server.url, token);
    await waitFor(async () => (await valueOf(b, id)) === 1, 'b to see the counter at 1');
    await synced(a);

    a.sync.setOnline(false);
    b.sync.setOnline(false);
    expect(await a.engine.execute(id, { type: 'decrement' })).toMatchObject({ type: 'accepted' });
    expect(await b.engine.execute(id, { type: 'decrement' })).toMatchObject({ type: 'accepted' });
    a.sync.setOnline(true);
    b.sync.setOnline(true);

    const streams = await converged([a, b], redis, space);
    expect(streams[id]).toHaveLength(3);
    expect(await valueOf(a, id)).toBe(0);
    expect(await valueOf(b, id)).toBe(0);
    const rejected = [...a.sync.current().rejected, ...b.sync.current().rejected];
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ stream: id, name: 'Coffee' });
    expect(rejected[0]!.reason).toMatch(/already at zero/);
    const loser = a.sync.current().rejected.length === 1 ? a : b;
    await loser.sync.dismissRejection(rejected[0]!.commandId);
    await waitFor(() => loser.sync.current().rejected.length === 0, 'the rejection to go');
  });

  it('a push whose answer is lost is retried without losing or doubling an event', async () => {
    let lost = 0;
    const a = await device({
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        // The server did the work; the device never hears of it (the first two times).
        if (String(input).endsWith('/push') && lost < 2) {
          lost++;
          throw new TypeError('network lost');
        }
        return response;
      },
    });
    const id = counterId(2);
    const { space } = await a.sync.startSync(server.url);
    await a.engine.execute(id, { type: 'create', name: 'Tea' });
    for (let i = 0; i < 5; i++) await a.engine.execute(id, { type: 'increment' });
    const streams = await converged([a], redis, space);
    // Answers were lost (how many pushes the batching made is its business); the pushed events
    // came back through the feed or a retry and were confirmed once.
    expect(lost).toBeGreaterThanOrEqual(1);
    expect(streams[id]).toHaveLength(6);
    expect(new Set((streams[id] as { id: string }[]).map((e) => e.id)).size).toBe(6);
    expect(await valueOf(a, id)).toBe(5);
  });

  it('the pending count falls to 0 as the feed confirms a push whose answer was lost, not after the backoff', async () => {
    let lost = 0;
    const a = await device({
      // After the failed push, one pause far longer than the test may wait; and an echo that
      // would wait for the answer as long (it must not: the push failed).
      backoff: { baseMs: 60_000, maxMs: 60_000, random: () => 1 },
      echoWaitMs: 60_000,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).endsWith('/push') && lost++ === 0) throw new TypeError('network lost');
        return response;
      },
    });
    const id = counterId(9);
    const { space } = await a.sync.startSync(server.url);
    await a.engine.execute(id, { type: 'create', name: 'Stale' });
    // Only the feed can confirm it: the push loop sleeps out its backoff.
    const streams = await converged([a], redis, space, 10_000);
    expect(lost).toBe(1);
    expect(streams[id]).toHaveLength(1);
    expect(a.sync.current().pending).toBe(0);
  });

  it('an answer that hangs holds the feed a moment only: the echo confirms the push meanwhile', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let pushes = 0;
    const a = await device({
      echoWaitMs: 100,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        // The server took the first push; its answer is held until the test lets it go.
        if (String(input).endsWith('/push') && pushes++ === 0) await held;
        return response;
      },
    });
    const id = counterId(10);
    const { space } = await a.sync.startSync(server.url);
    await a.engine.execute(id, { type: 'create', name: 'Held' });
    await waitFor(async () => (await a.engine.confirmedOf(id)) === 1, 'the echo to confirm it');
    expect(pushes).toBe(1);
    release();
    const streams = await converged([a], redis, space);
    expect(streams[id]).toHaveLength(1);
    expect(a.sync.current().pending).toBe(0);
  });

  it('an accepted push its device could not confirm in memory is received once, its echo waiting for that', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let pushes = 0;
    // The held push's event ids, and whether the live feed has brought one of them back.
    let heldIds: string[] = [];
    let echoed = false;
    const watchEcho = (response: Response) =>
      new Response(
        response.body!.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              const text = new TextDecoder().decode(chunk);
              if (heldIds.some((id) => text.includes(id))) echoed = true;
              controller.enqueue(chunk);
            },
          }),
        ),
        response,
      );
    const engine = await openEngine({ device: 'device-once-a' });
    const storage = new IndexedDBSyncStorage(engine);
    const receives = new Map<string, number>();
    const receive = storage.receive;
    storage.receive = (stream, events) => {
      receives.set(stream, (receives.get(stream) ?? 0) + 1);
      return receive(stream, events);
    };
    const a = await deviceOn(engine, storage, {
      echoWaitMs: 60_000,
      fetch: async (input, init) => {
        const url = String(input);
        if (url.includes('/live')) return watchEcho(await fetch(input, init));
        // The second push (the first after pairing) is read, and waits to be sent; its answer
        // then waits for its echo, so the echo is the first to bring it back.
        if (!url.endsWith('/push') || ++pushes !== 2) return fetch(input, init);
        await held;
        const body = JSON.parse(String(init!.body)) as { streams: { events: { id: string }[] }[] };
        heldIds = body.streams.flatMap(({ events }) => events.map(({ id }) => id));
        const response = await fetch(input, init);
        await waitFor(() => echoed, 'the echo before the answer');
        return response;
      },
    });
    devices.push(a);
    const [mine, theirs] = [counterId(11), counterId(12)];
    await a.engine.execute(mine, { type: 'create', name: 'Mine' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    await synced(a);
    const b = await device();
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await a.engine.execute(mine, { type: 'increment' });
    await waitFor(() => pushes === 2, 'the push about to be sent');
    // Meanwhile another device's counter arrives: receiving it writes what is behind the
    // appends first, the push's command too, which then cannot be confirmed in memory.
    await b.engine.execute(theirs, { type: 'create', name: 'Theirs' });
    await waitFor(async () => (await a.engine.confirmedOf(theirs)) === 1, 'theirs on a');
    const before = receives.get(mine) ?? 0;
    // Sent: its answer and its echo both bring it back, in either order; one receive.
    release();
    await waitFor(async () => (await a.engine.confirmedOf(mine)) === 2, 'mine confirmed');
    await waitFor(
      async () => (await storage.readFeedCursor(space)) === (await serverCursor(redis, space)),
      'a to have read the whole feed',
    );
    expect((await serverStreams(redis, space))[mine]).toHaveLength(2);
    expect((receives.get(mine) ?? 0) - before).toBe(1);
  });

  it('a lost push answer with no feed to tell: the retried push is accepted, nothing doubled', async () => {
    let pulls = 0;
    let lost = 0;
    const a = await device({
      fetch: async (input, init) => {
        const url = String(input);
        // One catch-up, then the feed is gone: only a retried push can confirm anything.
        if (url.includes('/live') || (url.includes('/events') && pulls++ > 0))
          throw new TypeError('feed unreachable');
        const response = await fetch(input, init);
        if (url.endsWith('/push') && lost++ < 2) throw new TypeError('network lost');
        return response;
      },
    });
    const id = counterId(3);
    await a.engine.execute(id, { type: 'create', name: 'Juice' });
    await a.engine.execute(id, [{ type: 'increment' }, { type: 'increment' }]);
    const { space } = await a.sync.startSync(server.url);
    const streams = await converged([a], redis, space);
    expect(lost).toBeGreaterThanOrEqual(3);
    expect(streams[id]).toHaveLength(3);
    expect(a.sync.current().state).toBe('offline');
  });

  it('remote events reach every device, and a later joiner pulls everything', async () => {
    const a = await device();
    const { pairingLink, space } = await a.sync.startSync(server.url);
    const token = decodeURIComponent(pairingLink.split('#pair=')[1]!);
    for (let n = 0; n < 5; n++)
      await a.engine.execute(counterId(10 + n), { type: 'create', name: `C${n}` });
    const b = await device();
    // Made before joining: pushed too.
    await b.engine.execute(counterId(20), { type: 'create', name: 'From b' });
    await b.sync.joinSpace(server.url, token);
    const c = await device();
    // Invites are single-use: a second device needs a fresh one.
    const second = (await a.sync.pairDevice()).pairingLink;
    await c.sync.joinSpace(server.url, decodeURIComponent(second.split('#pair=')[1]!));
    const streams = await converged([a, b, c], redis, space);
    expect(Object.keys(streams)).toHaveLength(6);
    expect((await listCounters(c.engine)).map((r) => r.name).sort()).toEqual(
      ['C0', 'C1', 'C2', 'C3', 'C4', 'From b'].sort(),
    );
  });

  it('a command is acked before the push it sets off starts: syncing adds nothing to its wait', async () => {
    // No push delay (the product's default): the push is asked for by the commit itself.
    const pushes: number[] = [];
    const a = await device({
      pushDelayMs: 0,
      fetch: (input, init) => {
        if (String(input instanceof Request ? input.url : input).endsWith('/push'))
          pushes.push(performance.now());
        return fetch(input, init);
      },
    });
    const id = counterId('ack-first');
    await a.engine.execute(id, { type: 'create', name: 'Water' });
    await a.sync.startSync(server.url);
    await synced(a);
    for (let n = 1; n <= 5; n++) {
      const before = pushes.length;
      await a.engine.execute(id, { type: 'increment' });
      // Acked (this line runs in the ack's own task): no push of it has started yet…
      expect(pushes.length).toBe(before);
      // …and it goes out at once after.
      await waitFor(() => pushes.length > before, `push ${n}`);
      await synced(a);
    }
    expect((await listCounters(a.engine))[0]?.value).toBe(5);
  });

  it('a syncing device reads its rejections only when something may have changed them', async () => {
    // Device a's every getAll of the rejections store and count of the outbox (fake-indexeddb's,
    // under idb).
    const { getAll, count } = IDBObjectStore.prototype;
    let reads = 0;
    let counted = 0;
    let watched = '';
    const mine = (store: IDBObjectStore) => store.transaction.db.name === watched;
    IDBObjectStore.prototype.getAll = function (this: IDBObjectStore, ...args) {
      if (this.name === 'rejections' && mine(this)) reads++;
      return getAll.apply(this, args);
    };
    IDBObjectStore.prototype.count = function (this: IDBObjectStore, ...args) {
      if (this.name === 'outbox' && mine(this)) counted++;
      return count.apply(this, args);
    };
    try {
      const [a, b] = [await device(), await device()];
      watched = a.engine.db.name;
      const [id, busy] = [counterId('rejections-read'), counterId('rejections-busy')];
      await a.engine.execute(id, { type: 'create', name: 'Once' });
      await a.engine.execute(id, { type: 'increment' });
      await a.engine.execute(busy, { type: 'create', name: 'Busy' });
      const { pairingLink } = await a.sync.startSync(server.url);
      await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
      await waitFor(async () => (await valueOf(b, id)) === 1, 'b to see 1');
      await synced(a);
      const [before, countedBefore] = [reads, counted];
      for (let n = 0; n < 20; n++) await a.engine.execute(busy, { type: 'increment' });
      await synced(a);
      // Twenty commands, each a status change or two, each of which read the rejections before
      // (38 reads here). Now they are read again only after a receive its device could not
      // confirm in memory. The pending commands are counted from memory while the stored outbox
      // is known empty and nothing is written behind: 36 counts before, 0–1 alone, up to 15 in
      // a loaded run (the writes behind then overlap the counts), so that is logged, not held.
      console.info(
        `20 commands: rejections read ${reads - before}, outbox counted ${counted - countedBefore}`,
      );
      expect(reads - before).toBeLessThan(10);
      // A rejection after sync still shows: both decrement from 1 offline, one is rejected…
      await waitFor(async () => (await valueOf(b, busy)) === 20, 'b to see 20');
      a.sync.setOnline(false);
      b.sync.setOnline(false);
      await a.engine.execute(id, { type: 'decrement' });
      await b.engine.execute(id, { type: 'decrement' });
      a.sync.setOnline(true);
      b.sync.setOnline(true);
      await waitFor(
        () => a.sync.current().rejected.length + b.sync.current().rejected.length === 1,
        'one rejection shown',
      );
      // …and dismissed, it goes.
      const loser = a.sync.current().rejected.length === 1 ? a : b;
      await loser.sync.dismissRejection(loser.sync.current().rejected[0]!.commandId);
      await waitFor(() => loser.sync.current().rejected.length === 0, 'the rejection dismissed');
      expect(await valueOf(a, id)).toBe(0);
    } finally {
      Object.assign(IDBObjectStore.prototype, { getAll, count });
    }
  });

  it('a pushed command is confirmed once, in memory (its echo waits for the answer), pushed from memory, and a device that only receives never reads a push', async () => {
    // Devices whose storage counts the pushes it reads, and the accepted pushes it could not
    // confirm in memory (their commands were written behind meanwhile: a slow machine).
    const counting = async (name: string) => {
      const engine = await openEngine({ device: name });
      const storage = new IndexedDBSyncStorage(engine);
      const reads = { n: 0, unconfirmed: 0 };
      const readPush = storage.readPush;
      storage.readPush = (skip) => {
        reads.n++;
        return readPush(skip);
      };
      const confirmPushed = storage.confirmPushed;
      storage.confirmPushed = (stream, events) => {
        const confirmed = confirmPushed(stream, events);
        if (!confirmed) reads.unconfirmed++;
        return confirmed;
      };
      // The cursor past a's own echoes stored at once: the test reads it to know a saw them.
      const opened = await deviceOn(engine, storage, { echoCursorMs: 0 });
      devices.push(opened);
      return { ...opened, storage, reads };
    };
    const a = await counting('device-counts-a');
    const b = await counting('device-counts-b');
    const id = counterId(1);
    await a.engine.execute(id, { type: 'create', name: 'Tea' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await waitFor(async () => (await valueOf(b, id)) === 0, 'b to see the counter');
    // Both have read the feed as far as it goes (a its own echo too).
    const feedRead = async () => {
      const [atA, atB] = await Promise.all([a, b].map((d) => d.storage.readFeedCursor(space)));
      return atA === atB && atA === (await serverCursor(redis, space));
    };
    await Promise.all([synced(a), synced(b)]);
    await waitFor(feedRead, 'both devices to have read the whole feed');
    const [appendsA, readsA, readsB, appendsB, fromMemoryA, unconfirmedA] = [
      a.engine.store.transactions,
      a.reads.n,
      b.reads.n,
      b.engine.store.transactions,
      a.storage.pushReads.memory,
      a.reads.unconfirmed,
    ];
    for (let n = 1; n <= 3; n++) {
      await a.engine.execute(id, { type: 'increment' });
      await waitFor(async () => (await valueOf(b, id)) === n, `b to see ${n}`);
      await synced(a);
      await waitFor(feedRead, 'both devices to have read the whole feed');
    }
    // a: each command's append and no receive of the server's copy, whichever of the answer
    // and the echo comes first: the echo waits for the answer, which confirms in memory. Only
    // an accepted push not confirmable in memory is received (by its answer and its echo).
    const unconfirmed = a.reads.unconfirmed - unconfirmedA;
    const receivesA = a.engine.store.transactions - appendsA - 3;
    expect(receivesA).toBeGreaterThanOrEqual(0);
    expect(receivesA).toBeLessThanOrEqual(2 * unconfirmed);
    // Pushes made from memory: all but the first, which reads the store (the create's answer
    // was received: sync stored its command when it started) and finds its outbox empty.
    expect(a.storage.pushReads.memory - fromMemoryA).toBeGreaterThanOrEqual(2 - 2 * unconfirmed);
    // Confirmed, each command once: nothing left pending, whatever came first.
    await a.engine.store.writeBehind();
    expect(await a.engine.confirmedOf(id)).toBe(4);
    expect(await a.engine.db.count('outbox')).toBe(0);
    expect(a.reads.n - readsA).toBe(3);
    // b: one receive each; nothing of its own to push.
    expect(b.engine.store.transactions - appendsB).toBe(3);
    expect(b.reads.n - readsB).toBe(0);
  });

  it('the echoes of a device’s own pushes cost it no cursor write each: the cursor goes with the next news, or a moment later', async () => {
    // a's writes of the feed's cursor, counted where they are stored.
    const engine = await openEngine({ device: 'device-echo-cursor-a' });
    const storage = new IndexedDBSyncStorage(engine);
    let written = 0;
    const writeFeedCursor = storage.writeFeedCursor;
    storage.writeFeedCursor = (space, cursor) => {
      written++;
      return writeFeedCursor(space, cursor);
    };
    // Stored at the latest 5 s after the last echo: a round trip here takes some tens of ms.
    const a = await deviceOn(engine, storage, { echoCursorMs: 5_000 });
    devices.push(a);
    const b = await device();
    const id = counterId('echo-cursor');
    await a.engine.execute(id, { type: 'create', name: 'Tea' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await waitFor(async () => (await valueOf(b, id)) === 0, 'b to see the counter');
    await synced(a);
    const head = () => serverCursor(redis, space);
    // Once a has stored the cursor at the feed's head, it has read its own echoes too.
    await waitFor(
      async () => (await storage.readFeedCursor(space)) === (await head()),
      'a at the head',
    );
    const before = written;
    for (let n = 1; n <= 10; n++) {
      await a.engine.execute(id, { type: 'increment' });
      await waitFor(async () => (await valueOf(b, id)) === n, `b to see ${n}`);
      await synced(a);
    }
    // Ten pushes, each echoed: one cursor write each before; now none while they come (one,
    // should an echo outwait its push's answer on a slow machine: then it is received) …
    expect(written - before).toBeLessThanOrEqual(1);
    // … and, a moment later, the cursor at the head all the same: a restart reads nothing again.
    await waitFor(
      async () => (await storage.readFeedCursor(space)) === (await head()),
      'a at the head',
      15_000,
    );
    // News from b is stored with its cursor at once, past a's echoes before it.
    // (a's push first, so b's event comes after a's echo in the feed.)
    await a.engine.execute(id, { type: 'increment' });
    await synced(a);
    await b.engine.execute(id, { type: 'increment' });
    await waitFor(async () => (await valueOf(a, id)) === 12, 'a to see b’s increment');
    await waitFor(
      async () => (await storage.readFeedCursor(space)) === (await head()),
      'a at the head',
      // Sooner than the 5 s after a's own echo just before: it went with b's event.
      4_000,
    );
    expect(await valueOf(b, id)).toBe(12);
  });

  it('echoes that keep coming still have their cursor stored within the bound, not only once they stop', async () => {
    const engine = await openEngine({ device: 'device-echo-steady-a' });
    const storage = new IndexedDBSyncStorage(engine);
    const writes: number[] = [];
    const writeFeedCursor = storage.writeFeedCursor;
    storage.writeFeedCursor = (space, cursor) => {
      writes.push(Date.now());
      return writeFeedCursor(space, cursor);
    };
    const a = await deviceOn(engine, storage, { echoCursorMs: 300 });
    devices.push(a);
    const id = counterId('echo-steady');
    await a.engine.execute(id, { type: 'create', name: 'Tea' });
    await a.sync.startSync(server.url);
    await synced(a);
    // Pushes one after another for 1.5 s, each echoed well within 300 ms of the one before.
    const from = Date.now();
    let n = 0;
    while (Date.now() - from < 1_500) {
      await a.engine.execute(id, { type: 'increment' });
      await synced(a);
      n++;
    }
    const during = writes.filter((at) => at > from && at < Date.now());
    // Stored while they still came (a timer moved by every echo would store none until after).
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(n).toBeGreaterThan(1);
  });

  it('leaving right after an echo stores no cursor of the old space afterwards, and the new space is read whole', async () => {
    // a's live feed, its chunks counted as they come in.
    let chunks = 0;
    const engine = await openEngine({ device: 'device-echo-leave-a' });
    const storage = new IndexedDBSyncStorage(engine);
    const a = await deviceOn(engine, storage, {
      // The cursor past echoes waits a minute: only stopping can store it.
      echoCursorMs: 60_000,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).includes('/live?') || !response.body) return response;
        const counted = response.body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              chunks++;
              controller.enqueue(chunk);
            },
          }),
        );
        return new Response(counted, { status: response.status, headers: response.headers });
      },
    });
    devices.push(a);
    const id = counterId('echo-leave');
    await a.engine.execute(id, { type: 'create', name: 'Tea' });
    const first = await a.sync.startSync(server.url);
    await synced(a);
    const seen = chunks;
    await a.engine.execute(id, { type: 'increment' });
    await synced(a);
    // Its echo is on its way in (or in): a leaves at once.
    await waitFor(() => chunks > seen, 'the echo to reach a');
    await a.sync.leaveSpace();
    const afterLeaving = await a.engine.db.get('meta', 'cursor');
    expect(afterLeaving).toBeUndefined();
    // A new space: a's whole history goes there, and the cursor stored is that space's.
    const second = await a.sync.startSync(server.url);
    expect(second.space).not.toBe(first.space);
    await synced(a);
    await waitFor(
      async () => (await serverStreams(redis, second.space))[id]?.length === 2,
      'the new space to hold a’s whole history',
    );
    // Stopped: whatever cursor it stores now is the new space's, never the old one's.
    await a.sync.stop();
    const stored = await a.engine.db.get('meta', 'cursor');
    if (stored !== undefined) expect(stored).toMatchObject({ space: second.space });
    expect((await listCounters(a.engine))[0]?.value).toBe(1);
  });

  it('damaged sync settings: sync is off and says why, counting goes on, and starting sync replaces them', async () => {
    const engine = await openEngine({ device: 'device-damaged-1' });
    const id = counterId('damaged');
    await engine.execute(id, { type: 'create', name: 'Kept' });
    await engine.db.put('meta', { key: 'sync', origin: 42, space: ['no'] } as never);
    const device = await deviceOn(engine, new IndexedDBSyncStorage(engine));
    devices.push(device);
    const { sync } = device;
    expect(sync.current()).toMatchObject({
      state: 'off',
      lastError: expect.stringMatching(
        /^The sync settings stored on this device are damaged.*Start syncing or join a space to replace them/,
      ),
    });
    expect(await engine.execute(id, { type: 'increment' })).toMatchObject({ type: 'accepted' });
    // Deleting forever counts them as none: nothing to tell a server, no raw error.
    expect(await sync.deleteStream(counterId('other'))).toBe(false);
    // Asked for by the person: a new space, with everything this device counted.
    const { space } = await sync.startSync(server.url);
    await synced(device);
    expect(sync.current().lastError).toBeUndefined();
    expect(await new IndexedDBSyncStorage(engine).readSettings()).toMatchObject({ space });
    expect((await serverStreams(redis, space))[id]).toHaveLength(2);
  });

  it('a damaged pending event: starting or joining refuses in words, before a space is made or an invite spent', async () => {
    const a = await device();
    const { pairingLink, space } = await a.sync.startSync(server.url);
    const link = decodeURIComponent(pairingLink.split('#pair=')[1]!);
    // The keys outside a's space (a, syncing meanwhile, may add its own: its last request's
    // time, its live lease): a new space would add some.
    const othersKeys = async () =>
      (await redis.client.keys('*')).filter((key) => !key.includes(`{${space}}`)).sort();
    const engine = await openEngine({ device: 'device-damaged-2' });
    const id = counterId('damaged-event');
    await engine.execute(id, { type: 'create', name: 'Counted' });
    await engine.execute(id, { type: 'increment' });
    const [position] = await engine.db.getAllKeys('events');
    // A batch of one (worker/event-records.ts): its event damaged.
    const record = (await engine.db.get('events', position!)) as EventBatch;
    await engine.db.put('events', {
      ...record,
      events: [{ ...record.events[0]!, data: { name: 7 } }],
    } as never);
    const b = await deviceOn(engine, new IndexedDBSyncStorage(engine));
    devices.push(b);
    const keys = await othersKeys();
    await expect(b.sync.startSync(server.url)).rejects.toThrow(/damaged|malformed|invalid/i);
    await expect(b.sync.joinSpace(server.url, link)).rejects.toThrow(/damaged|malformed|invalid/i);
    // Nothing was made on the server, and the link still pairs another device.
    expect(await othersKeys()).toEqual(keys);
    expect(b.sync.current().state).toBe('off');
    const c = await device();
    await c.sync.joinSpace(server.url, link);
    await synced(c);
  });

  it('a name created offline on two devices ends unique and the same everywhere', async () => {
    const a = await device();
    const b = await device();
    const { pairingLink, space } = await a.sync.startSync(server.url);
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await synced(b);
    b.sync.setOnline(false);
    await b.engine.execute(counterId(31), { type: 'create', name: 'Milk' });
    await a.engine.execute(counterId(30), { type: 'create', name: 'milk' });
    await synced(a);
    b.sync.setOnline(true);
    await converged([a, b], redis, space);
    // Both counters stay, whichever device heard of the other first: every device renames the
    // later one the same way, and nothing is rejected.
    const names = async (d: Device) => (await listCounters(d.engine)).map((r) => r.name).sort();
    // A rename that settles the names is a command like any other: it syncs after the rest.
    await waitFor(async () => {
      const [x, y] = [await names(a), await names(b)];
      const unique = new Set(x.map((n) => n.toLowerCase())).size === x.length;
      return unique && JSON.stringify(x) === JSON.stringify(y) && (await synced(a), true);
    }, 'both devices to agree on unique names');
    const [na, nb] = [await names(a), await names(b)];
    expect(na).toEqual(nb);
    expect(new Set(na.map((n) => n.toLowerCase())).size).toBe(na.length);
    expect(na).toHaveLength(2);
    expect([...a.sync.current().rejected, ...b.sync.current().rejected]).toEqual([]);
    // The counter created first (time, then id) keeps its name; the other is renamed.
    const rows = await listCounters(a.engine);
    const [first, second] = [...rows].sort(
      (x, y) => x.createdAt - y.createdAt || x.id.localeCompare(y.id),
    );
    expect(second!.name).toBe(`${first!.id === counterId(30) ? 'Milk' : 'milk'} (2)`);
    expect(['Milk', 'milk']).toContain(first!.name);
  });
});

describe('pairing and leaving', () => {
  it('a joining device gets its own token; leaving revokes only that one, and keeps local data', async () => {
    const a = await device();
    const b = await device();
    const id = counterId(50);
    await a.engine.execute(id, { type: 'create', name: 'Shared' });
    const { pairingLink } = await a.sync.startSync(server.url);
    const pairing = decodeURIComponent(pairingLink.split('#pair=')[1]!);
    await b.sync.joinSpace(server.url, pairing);
    await waitFor(async () => (await valueOf(b, id)) === 0, 'b to see the counter');
    const bToken = (await b.engine.db.get('meta', 'sync')) as { token?: string } | undefined;
    expect(bToken?.token).toMatch(/^t1\./);
    expect(bToken?.token).not.toBe(pairing);

    await b.sync.leaveSpace();
    expect(b.sync.current().state).toBe('off');
    expect(await valueOf(b, id)).toBe(0); // local data stays
    const space = pairing.split('.')[1]!;
    const refused = await fetch(`${server.url}/api/spaces/${space}/events`, {
      headers: { Authorization: `Bearer ${bToken!.token!}` },
    });
    expect(refused.status).toBe(401);
    // The others carry on.
    await a.engine.execute(id, { type: 'increment' });
    await synced(a);
    const aToken = (await a.engine.db.get('meta', 'sync')) as { token?: string } | undefined;
    const still = await fetch(`${server.url}/api/spaces/${space}/events`, {
      headers: { Authorization: `Bearer ${aToken!.token!}` },
    });
    expect(still.status).toBe(200);
    // The invite only ever made device tokens: it reads nothing itself.
    const invited = await fetch(`${server.url}/api/spaces/${space}/events`, {
      headers: { Authorization: `Bearer ${pairing}` },
    });
    expect(invited.status).toBe(401);
  });
});

describe('a server that comes back with fewer events', () => {
  it('devices detect the loss and restore the server from their own copies', async () => {
    const a = await device();
    const b = await device();
    const id = counterId(60);
    await a.engine.execute(id, { type: 'create', name: 'Kept' });
    for (let i = 0; i < 5; i++) await a.engine.execute(id, { type: 'increment' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await waitFor(async () => (await valueOf(b, id)) === 5, 'b to see 5');
    await synced(a);

    // What an AOF with `appendfsync everysec` may do: the last three events are gone, from the
    // stream and from the space's feed alike.
    const key = redisKeys.stream(space, id);
    await redis.client.ltrim(key, 0, 2);
    const lost = await redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 3);
    await redis.client.xdel(redisKeys.feed(space), ...lost.map(([entry]) => entry));
    expect(await redis.client.llen(key)).toBe(3);

    await a.engine.execute(id, { type: 'increment' });
    await converged([a, b], redis, space);
    expect(await redis.client.llen(key)).toBe(7);
    expect((await serverStreams(redis, space))[id]).toEqual((await streamsOf(a.engine))[id]);
    expect(await valueOf(b, id)).toBe(6);
  });
});

describe('a server whose lost events others wrote over', () => {
  it('the device that had them says so and keeps its copy, and the feed goes on for the rest', async () => {
    const a = await device();
    const b = await device();
    const split = counterId(70);
    const fine = counterId(71);
    await a.engine.execute(split, { type: 'create', name: 'Split' });
    await a.engine.execute(split, { type: 'increment' });
    const { space, pairingLink } = await a.sync.startSync(server.url);
    await b.sync.joinSpace(server.url, decodeURIComponent(pairingLink.split('#pair=')[1]!));
    await waitFor(async () => (await valueOf(b, split)) === 1, 'b to see 1');
    b.sync.setOnline(false);
    for (let i = 0; i < 3; i++) await a.engine.execute(split, { type: 'increment' });
    await synced(a);
    // Redis loses a's last three events; then b, which never saw them, writes at those versions.
    const key = redisKeys.stream(space, split);
    await redis.client.ltrim(key, 0, 1);
    const lost = await redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 3);
    await redis.client.xdel(redisKeys.feed(space), ...lost.map(([entry]) => entry));
    for (let i = 0; i < 4; i++) await b.engine.execute(split, { type: 'increment' });
    b.sync.setOnline(true);
    await synced(b);
    expect(await redis.client.llen(key)).toBe(6);
    // a pushes on top of its own version 5: the server's version 5 is b's.
    await a.engine.execute(split, { type: 'increment' });
    await a.engine.execute(fine, { type: 'create', name: 'Fine' });
    await waitFor(
      async () => a.sync.current().lastError?.includes('differs from this device'),
      'a to report the split',
    );
    // Nothing of a's was written over the server's copy, and a kept its own.
    expect(await redis.client.llen(key)).toBe(6);
    expect(await valueOf(a, split)).toBe(5);
    // Other counters still sync.
    await waitFor(async () => (await valueOf(b, fine)) === 0, 'b to see the other counter');
  });
});

describe('sync against a server that dies', () => {
  it('the server killed -9 and restarted mid-push loses and doubles nothing', async () => {
    const port = await freePort();
    const child = await childServer(redis, port);
    try {
      const a = await device();
      const { space } = await a.sync.startSync(child.url);
      const ids = [counterId(40), counterId(41), counterId(42)];
      for (const [n, id] of ids.entries())
        await a.engine.execute(id, { type: 'create', name: `K${n}` });
      const work: Promise<unknown>[] = [];
      for (let round = 0; round < 60; round++) {
        for (const id of ids) work.push(a.engine.execute(id, { type: 'increment' }));
        if (round === 20) {
          // Pushes are in flight now: kill the server under them, then bring it back.
          await new Promise((resolve) => setImmediate(resolve));
          await child.kill();
        }
        if (round === 40) await child.start();
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(work);
      const streams = await converged([a], redis, space, 40_000);
      for (const id of ids) {
        expect(streams[id]).toHaveLength(61);
        expect(new Set((streams[id] as { id: string }[]).map((e) => e.id)).size).toBe(61);
        expect(await valueOf(a, id)).toBe(60);
      }
      expect(await serverStreams(redis, space)).toEqual(await streamsOf(a.engine));
    } finally {
      await child.kill();
    }
  });
});
