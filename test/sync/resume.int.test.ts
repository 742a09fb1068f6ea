import { afterEach, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { counterId, listCounters, openEngine } from '../helpers/engine.ts';
import { deviceFixture, deviceOn, inviteOf, synced } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { startTestServer, waitFor } from '../server/fixtures.ts';

// Redis from the fixture; the server instances are this file's, stopped and started again.
const sync = syncServerFixture({ instances: 0 });
const device = deviceFixture();
let server: RunningServer | undefined;
/** A 503 as the server answers it (errors.ts), for a fetch that stands in for it. */
const unavailable = (message: string) =>
  Response.json({ error: { code: 'unavailable', message } }, { status: 503 });
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('resumes within seconds of the server coming back, however long its backoff has grown', async () => {
  server = await startTestServer(sync.redis.url);
  const port = server.port;
  // A backoff of a whole minute: only the health probe can bring sync back sooner.
  const a = await device({ backoff: { baseMs: 60_000, maxMs: 60_000 } });
  const id = counterId('resume');
  await a.engine.execute(id, { type: 'create', name: 'Water' });
  const { space } = await a.sync.startSync(server.url);
  await synced(a);

  await server.close();
  server = undefined;
  await a.engine.execute(id, { type: 'increment' });
  // The push fails and waits out its minute; the live feed is down too.
  await waitFor(
    () => a.sync.current().state === 'offline' && a.sync.current().pending === 1,
    'a to be offline with 1 pending',
  );

  server = await startTestServer(sync.redis.url, { port });
  const back = Date.now();
  await synced(a, 20_000);
  const took = Date.now() - back;
  expect(a.sync.current().space).toBe(space);
  expect((await listCounters(a.engine)).map((row) => row.value)).toEqual([1]);
  console.info(`sync resumed ${took} ms after the server came back (backoff 60 s)`);
});

it(
  'a push waiting out its backoff goes as soon as the live feed is back, without the health probe',
  { timeout: 60_000 },
  async () => {
    server = await startTestServer(sync.redis.url);
    const port = server.port;
    // The first delay drawn (the feed's, as the server goes) is 12 s, time enough to restart the
    // server however busy the machine; every later one a minute. The probe never asks: only the
    // feed coming back can bring the push back sooner.
    let draws = 0;
    const a = await device({
      backoff: { baseMs: 60_000, maxMs: 60_000, random: () => (draws++ === 0 ? 0.2 : 1) },
      probeMs: 600_000,
    });
    const id = counterId('feed-back');
    await a.engine.execute(id, { type: 'create', name: 'Water' });
    await a.sync.startSync(server.url);
    await synced(a);

    await server.close();
    server = undefined;
    await waitFor(() => a.sync.current().state !== 'synced', 'a to see the feed end');
    expect(draws).toBe(1);
    await a.engine.execute(id, { type: 'increment' });
    await waitFor(
      () => a.sync.current().state === 'offline' && a.sync.current().pending === 1,
      'a to be offline with 1 pending',
    );
    expect(draws).toBe(2);

    server = await startTestServer(sync.redis.url, { port });
    // The feed reconnects after its 12 s; the push, drawn a minute, must not wait it out.
    await synced(a, 30_000);
    expect((await listCounters(a.engine)).map((row) => row.value)).toEqual([1]);
  },
);

it('a live feed the server refuses (429) is asked for again only after its Retry-After, never in a loop', async () => {
  // One live feed per space: a's takes it, b's is refused for as long as a follows (with a lease
  // of 3 s, the server says to come back in 1 s).
  server = await startTestServer(sync.redis.url, {
    maxLiveConnectionsPerSpace: 1,
    liveLeaseMs: 3_000,
  });
  const a = await device();
  await a.engine.execute(counterId('refused'), { type: 'create', name: 'Water' });
  const { pairingLink } = await a.sync.startSync(server.url);
  await synced(a);
  const asked: { at: number; retryAfter: number }[] = [];
  const b = await device({
    // Its own backoff would ask again within 100 ms; the server's Retry-After says 1 s.
    backoff: { baseMs: 100, maxMs: 60_000, random: () => 1 },
    fetch: async (input, init) => {
      const at = Date.now();
      const response = await fetch(input, init);
      if (String(input).includes('/live?'))
        asked.push({ at, retryAfter: Number(response.headers.get('Retry-After')) });
      return response;
    },
  });
  await b.sync.joinSpace(server.url, inviteOf(pairingLink));
  await waitFor(() => asked.length >= 3, 'b to ask for the live feed three times', 15_000);
  for (let i = 1; i < 3; i++) {
    expect(asked[i - 1]!.retryAfter).toBe(1);
    expect(asked[i]!.at - asked[i - 1]!.at).toBeGreaterThanOrEqual(1_000);
  }
  expect(b.sync.current().state).not.toBe('synced');
  // And it says so as the server's request to wait, not as a server away (the page words it).
  expect(b.sync.current()).toMatchObject({ lastErrorCode: 'too-many-requests' });
});

it('a live feed the server takes and ends at once with nothing is asked for again later each time, never in a loop', async () => {
  server = await startTestServer(sync.redis.url);
  const a = await device();
  await a.engine.execute(counterId('ended'), { type: 'create', name: 'Water' });
  const { pairingLink } = await a.sync.startSync(server.url);
  await synced(a);
  // b's live feed is taken (200, an event stream) and ends at once, as a server or proxy that
  // closes every stream would do; its catch-up pages and the health probe answer as usual.
  const asked: number[] = [];
  const b = await device({
    // Without jitter: 150 ms, then 300, 600, 1,200 … while nothing starts it again.
    backoff: { baseMs: 150, maxMs: 60_000, random: () => 1 },
    // The health probe asks often; the server answers it throughout.
    probeMs: 100,
    fetch: async (input, init) => {
      if (!String(input).includes('/live?')) return fetch(input, init);
      asked.push(Date.now());
      const taken = await fetch(input, init);
      await taken.body?.cancel();
      return new Response(new ReadableStream({ start: (controller) => controller.close() }), {
        status: 200,
        headers: { 'Content-Type': 'text/event-stream' },
      });
    },
  });
  await b.sync.joinSpace(server.url, inviteOf(pairingLink));
  await waitFor(() => asked.length >= 5, 'b to ask for the live feed five times', 15_000);
  const gaps = asked.slice(1).map((at, i) => at - asked[i]!);
  // Each wait at least the backoff's (150, 300, 600, 1,200 ms): before, every stream taken
  // started it again, and the probe woke the feed at its first answer (a request every
  // 100–150 ms, for ever).
  gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(150 * 2 ** i - 10));
  // b has what a holds all the same (its catch-up pages).
  expect((await listCounters(b.engine)).map((row) => row.name)).toEqual(['Water']);
});

it('a push refused while the live feed stays open goes once the server is healthy, not after its backoff', async () => {
  server = await startTestServer(sync.redis.url);
  // Pushes fail as in a Redis failover (the server cannot take them), the live feed stays open.
  let refusing = false;
  const pushes: boolean[] = [];
  const a = await device({
    backoff: { baseMs: 60_000, maxMs: 60_000, random: () => 1 },
    probeMs: 200,
    fetch: (input, init) => {
      if (String(input).endsWith('/push')) {
        pushes.push(refusing);
        if (refusing) return Promise.resolve(unavailable('The database is failing over.'));
      }
      return fetch(input, init);
    },
  });
  const id = counterId('failover');
  await a.engine.execute(id, { type: 'create', name: 'Water' });
  await a.sync.startSync(server.url);
  await synced(a);
  refusing = true;
  await a.engine.execute(id, { type: 'increment' });
  await waitFor(
    () => a.sync.current().state === 'offline' && a.sync.current().pending === 1,
    'a push to be refused',
  );
  refusing = false;
  // Its backoff is a minute; the health probe (every 200 ms here) sends it again.
  await synced(a, 10_000);
  expect(pushes.filter((refused) => refused).length).toBeGreaterThanOrEqual(1);
  expect((await listCounters(a.engine)).map((row) => row.value)).toEqual([1]);
});

it('once nothing is left to push, the health probe stops and the status is synced, though the failed push was never answered', async () => {
  server = await startTestServer(sync.redis.url);
  // The server takes the push but its answer is lost (a 503 instead): the feed's echo confirms
  // the command, and the next push finds nothing to send.
  let loseAnswer = false;
  let health = 0;
  const a = await device({
    backoff: { baseMs: 60_000, maxMs: 60_000, random: () => 1 },
    probeMs: 100,
    fetch: async (input, init) => {
      const url = String(input);
      if (url.endsWith('/api/health')) health++;
      const response = await fetch(input, init);
      if (url.endsWith('/push') && loseAnswer) {
        loseAnswer = false;
        return unavailable('The answer was lost.');
      }
      return response;
    },
  });
  const id = counterId('lost-answer');
  await a.engine.execute(id, { type: 'create', name: 'Water' });
  await a.sync.startSync(server.url);
  await synced(a);
  loseAnswer = true;
  await a.engine.execute(id, { type: 'increment' });
  await synced(a, 10_000);
  // The probe asks no more: a handful of requests at most while it winds down, not ten a second.
  const settled = health;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(health - settled).toBeLessThanOrEqual(1);
  expect(a.sync.current().lastError).toBeUndefined();
  expect((await listCounters(a.engine)).map((row) => row.value)).toEqual([1]);
});

it('a command made as the device goes offline is not pushed until it is back online', async () => {
  server = await startTestServer(sync.redis.url);
  // Every push request, with whether the device was online when it was sent.
  let online = true;
  const pushed: boolean[] = [];
  const engine = await openEngine({ device: 'device-gate-1' });
  const storage = new IndexedDBSyncStorage(engine);
  // The next push's read is held once it has read: the device goes offline meanwhile.
  const read = storage.readPush.bind(storage);
  let held: { read: () => void; release: Promise<void> } | undefined;
  storage.readPush = async (...args) => {
    const gate = held;
    held = undefined;
    const result = await read(...args);
    if (gate) {
      gate.read();
      await gate.release;
    }
    return result;
  };
  const a = await deviceOn(engine, storage, {
    fetch: (input, init) => {
      if (String(input).endsWith('/push')) pushed.push(online);
      return fetch(input, init);
    },
  });
  try {
    const id = counterId('gate');
    await engine.execute(id, { type: 'create', name: 'Gate' });
    await a.sync.startSync(server.url);
    await synced(a);
    let release = () => undefined as void;
    const readDone = new Promise<void>((resolve) => {
      held = { read: resolve, release: new Promise<void>((r) => (release = r)) };
    });
    await engine.execute(id, { type: 'increment' });
    await readDone;
    online = false;
    a.sync.setOnline(false);
    release();
    // It waits, its command pending: nothing went out while offline.
    await waitFor(
      () => a.sync.current().state === 'offline' && a.sync.current().pending === 1,
      'a to be offline with 1 pending',
    );
    expect(pushed.filter((wasOnline) => !wasOnline)).toEqual([]);
    online = true;
    a.sync.setOnline(true);
    await synced(a);
    expect(pushed.every((wasOnline) => wasOnline)).toBe(true);
    expect((await listCounters(engine)).map((row) => row.value)).toEqual([1]);
  } finally {
    await a.close();
  }
});
