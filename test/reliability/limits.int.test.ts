import { afterEach, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
import { accessKeys } from '../../server/access-store.ts';
import { createSpaceTokens } from '../../server/auth.ts';
import { redisKeys } from '../../server/redis-store.ts';
import type { RunningServer, ServerOptions } from '../../server/server.ts';
import { contentSecurityPolicy } from '../../server/security-headers.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import {
  auth,
  createSpace,
  events,
  openLive,
  push,
  pushBody,
  startTestServer,
  streamOf,
  waitFor,
} from '../server/fixtures.ts';

/**
 * Limits on request rate and on live connections per space, answered 429 with `Retry-After`,
 * holding across instances because they are counted in Redis. Issue 8, "Access".
 */

// Each test starts the servers it needs, with its own limits.
const sync = syncServerFixture({ instances: 0 });
const servers: RunningServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  // Every test starts with no counts: they are per client address, and all of ours is loopback.
  await sync.redis.client.flushall();
});

const start = async (options: Partial<ServerOptions>) => {
  const server = await startTestServer(sync.redis.url, options);
  servers.push(server);
  return server;
};

const pull = (url: string, space: string, token: string) =>
  fetch(`${url}/api/spaces/${space}/events`, { headers: auth(token) });

/** A 429 as the protocol says: the JSON error, and how long to wait. */
async function expectTooMany(response: Response, maxSeconds: number): Promise<number> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('Retry-After'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(errorBodySchema.parse(await response.json()).error.code).toBe('too-many-requests');
  expect(response.headers.get('Content-Security-Policy')).toBe(contentSecurityPolicy);
  return retryAfter;
}

describe('request rate', () => {
  it('limits each space on its own, across instances', async () => {
    const limits = { perSpacePerMinute: 5 };
    const [one, two] = [await start({ rateLimit: limits }), await start({ rateLimit: limits })];
    const a = await createSpace(one.url);
    const b = await createSpace(one.url);
    // Five requests of space A, spread over both instances, then the sixth is refused on either.
    for (let i = 0; i < 5; i++)
      expect((await pull(i % 2 ? two.url : one.url, a.space, a.token)).status).toBe(200);
    await expectTooMany(await pull(one.url, a.space, a.token), 60);
    await expectTooMany(await pull(two.url, a.space, a.token), 60);
    // The live feed counts too.
    await expectTooMany(
      await fetch(`${two.url}/api/spaces/${a.space}/live`, { headers: auth(a.token) }),
      60,
    );
    // Space B is not affected.
    for (let i = 0; i < 5; i++) expect((await pull(two.url, b.space, b.token)).status).toBe(200);
  });

  it('opens again when the window has passed', async () => {
    const server = await start({ rateLimit: { perSpacePerMinute: 2, windowMs: 1_000 } });
    const { space, token } = await createSpace(server.url);
    await pull(server.url, space, token);
    await pull(server.url, space, token);
    await expectTooMany(await pull(server.url, space, token), 1);
    await waitFor(
      async () => (await pull(server.url, space, token)).status === 200,
      'the next window',
      5_000,
    );
  });

  it('limits creating spaces per client address', async () => {
    const server = await start({ rateLimit: { createPerIpPerMinute: 3 } });
    for (let i = 0; i < 3; i++) await createSpace(server.url);
    await expectTooMany(await fetch(`${server.url}/api/spaces`, { method: 'POST' }), 60);
  });

  it('limits refused requests per client address, and counts nothing else for them', async () => {
    const server = await start({ rateLimit: { refusedPerIpPerMinute: 3 } });
    const { space, token } = await createSpace(server.url);
    const forged = createSpaceTokens('some-other-secret-of-the-same-length-012345').issue(space);
    const before = await sync.redis.snapshot();
    for (let i = 0; i < 3; i++) expect((await pull(server.url, space, forged)).status).toBe(401);
    // A refused request writes one thing: its address's count, which expires with its window.
    const after = await sync.redis.snapshot();
    const changed = Object.keys(after.dumps).filter(
      (key) => after.dumps[key] !== before.dumps[key],
    );
    expect(changed).toEqual([accessKeys.address('refused', '127.0.0.1')]);
    expect(await sync.redis.client.pttl(changed[0] ?? '')).toBeGreaterThan(0);

    // Guessing on: refused before the token is even looked at.
    await expectTooMany(await pull(server.url, space, forged), 60);
    // The genuine token of the space still works from the same address.
    expect((await pull(server.url, space, token)).status).toBe(200);
  });

  it('counts a pairing link replayed after use against its address, never against the space', async () => {
    const server = await start({ rateLimit: { perSpacePerMinute: 6, refusedPerIpPerMinute: 3 } });
    const { space, token } = await createSpace(server.url);
    const made = await fetch(`${server.url}/api/spaces/${space}/invites`, {
      method: 'POST',
      headers: auth(token),
    });
    expect(made.status).toBe(201);
    const { invite } = (await made.json()) as { invite: string };
    const join = () =>
      fetch(`${server.url}/api/spaces/${space}/devices`, { method: 'POST', headers: auth(invite) });
    expect((await join()).status).toBe(201);
    // The link is used: each replay is refused in words, counted against the address…
    for (let i = 0; i < 3; i++) {
      const replay = await join();
      expect(replay.status).toBe(401);
      expect(errorBodySchema.parse(await replay.json()).error.message).toMatch(/already used/);
    }
    // …which is refused from then on, before anything is looked at…
    await expectTooMany(await join(), 60);
    // …while the space's own devices keep every request of theirs (one so far: the space's
    // creation is not one, making the invite is; the join counted on the link itself).
    for (let i = 0; i < 5; i++) expect((await pull(server.url, space, token)).status).toBe(200);
    await expectTooMany(await pull(server.url, space, token), 60);
  });

  it('counts a pending pairing link on itself: tried again and again, it never locks the space out', async () => {
    const server = await start({ rateLimit: { perSpacePerMinute: 6 } });
    const { space, token } = await createSpace(server.url);
    const made = await fetch(`${server.url}/api/spaces/${space}/invites`, {
      method: 'POST',
      headers: auth(token),
    });
    const { invite } = (await made.json()) as { invite: string };
    // Someone who saw the link (a QR code on a screen) sends joins the server refuses (a name
    // with nothing visible): the link stays pending, and each try counts on the link alone.
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const tried = await fetch(`${server.url}/api/spaces/${space}/devices`, {
        method: 'POST',
        headers: { ...auth(invite), 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: '\u200b' }),
      });
      statuses.push(tried.status);
      await tried.body?.cancel();
    }
    expect(statuses).toEqual([...Array<number>(10).fill(400), ...Array<number>(5).fill(429)]);
    // The space's device keeps its requests (one used: the invite), and can cancel the link.
    for (let i = 0; i < 4; i++) expect((await pull(server.url, space, token)).status).toBe(200);
    const cancelled = await fetch(`${server.url}/api/spaces/${space}/invites/${invite}`, {
      method: 'DELETE',
      headers: auth(token),
    });
    expect(cancelled.status).toBe(204);
  });

  it('answers 503, not a free pass, while Redis cannot count', async () => {
    const server = await start({});
    const { space, token } = await createSpace(server.url);
    await sync.redis.stop();
    try {
      const refused = await pull(server.url, space, token);
      expect(refused.status).toBe(503);
      expect(errorBodySchema.parse(await refused.json()).error.code).toBe('unavailable');
      expect((await fetch(`${server.url}/api/spaces`, { method: 'POST' })).status).toBe(503);
    } finally {
      await sync.redis.restart();
    }
    await waitFor(
      async () => (await pull(server.url, space, token)).status === 200,
      'Redis to be back',
    );
  });
});

describe('live connections', () => {
  it('holds at most the limit per space, across instances; others are not affected', async () => {
    const options = { maxLiveConnectionsPerSpace: 2 };
    const [one, two] = [await start(options), await start(options)];
    const a = await createSpace(one.url);
    const b = await createSpace(one.url);
    const live = (url: string, space: string, token: string) =>
      openLive(`${url}/api/spaces/${space}/live`, auth(token));

    const first = await live(one.url, a.space, a.token);
    const second = await live(two.url, a.space, a.token);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    await expectTooMany(await fetch(`${one.url}/api/spaces/${a.space}/live?token=${a.token}`), 60);
    await expectTooMany(
      await fetch(`${two.url}/api/spaces/${a.space}/live`, { headers: auth(a.token) }),
      60,
    );
    // Another space has its own.
    const other = await live(two.url, b.space, b.token);
    expect(other.response.status).toBe(200);
    // Pushes and pulls are not live connections.
    expect((await pull(one.url, a.space, a.token)).status).toBe(200);

    // One closes; its lease is given back and a new feed may open.
    first.close();
    const third = await waitFor(async () => {
      const response = await fetch(`${one.url}/api/spaces/${a.space}/live`, {
        headers: auth(a.token),
      });
      if (response.status === 200) return response;
      await response.body?.cancel();
      return undefined;
    }, 'a free live connection');
    await third.body?.cancel();
    second.close();
    other.close();
  });

  it('frees the connections of an instance that died once their lease runs out', async () => {
    const server = await start({ maxLiveConnectionsPerSpace: 1, liveLeaseMs: 600 });
    const { space, token } = await createSpace(server.url);
    // A lease as an instance that was killed would leave it: never renewed, never given back.
    const time = await sync.redis.client.time();
    const now = Number(time[0]) * 1_000 + Math.floor(Number(time[1]) / 1_000);
    await sync.redis.client.zadd(accessKeys.live(space), now + 600, 'dead-instance.1');

    const refused = await fetch(`${server.url}/api/spaces/${space}/live`, { headers: auth(token) });
    await expectTooMany(refused, 60);
    const live = await waitFor(async () => {
      const client = await openLive(`${server.url}/api/spaces/${space}/live`, auth(token));
      if (client.response.status === 200) return client;
      client.close();
      return undefined;
    }, 'the dead lease to expire');
    // The running stream renews its own lease: it is still held after several lease times.
    await waitFor(async () => {
      const score = await sync.redis.client.zscore(
        accessKeys.live(space),
        (await leases(space))[0] ?? '',
      );
      return score !== null && Number(score) > now + 1_800;
    }, 'the lease to be renewed');
    expect(
      (await fetch(`${server.url}/api/spaces/${space}/live`, { headers: auth(token) })).status,
    ).toBe(429);
    live.close();
  });
});

const leases = (space: string) => sync.redis.client.zrange(accessKeys.live(space), '0', '-1');

describe('quotas', () => {
  it('refuses a push that would take a space past its events, storing nothing', async () => {
    const server = await start({ maxEventsPerSpace: 5 });
    const { space, token } = await createSpace(server.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    expect((await push(server.url, space, token, pushBody(stream, 0, first))).status).toBe(200);
    // The rate counter moves with every request; the events must not.
    const stored = async () => ({
      list: await sync.redis.client.lrange(redisKeys.stream(space, stream), 0, -1),
      feed: await sync.redis.client.xlen(redisKeys.feed(space)),
    });
    const before = await stored();
    const more = events(stream, 3, ['Incremented', 'Incremented', 'Incremented']);
    const refused = await push(server.url, space, token, pushBody(stream, 3, more));
    expect(refused.status).toBe(403);
    const body = errorBodySchema.parse(await refused.json());
    expect(body.error.message).toMatch(/This space is full: it holds 3 events/);
    expect(await stored()).toEqual(before);
    // Within the quota still goes in; other spaces have their own.
    expect(
      (await push(server.url, space, token, pushBody(stream, 3, more.slice(0, 2)))).status,
    ).toBe(200);
    const other = await createSpace(server.url);
    const otherStream = streamOf();
    const fresh = events(otherStream, 0, ['Created', 'Incremented', 'Incremented']);
    expect(
      (await push(server.url, other.space, other.token, pushBody(otherStream, 0, fresh))).status,
    ).toBe(200);
  });

  it('follows at most so many spaces live per instance, then answers 503', async () => {
    const server = await start({ maxLiveSpaces: 1 });
    const [a, b] = [await createSpace(server.url), await createSpace(server.url)];
    const first = await openLive(`${server.url}/api/spaces/${a.space}/live`, auth(a.token));
    expect(first.response.status).toBe(200);
    const refused = await fetch(`${server.url}/api/spaces/${b.space}/live`, {
      headers: auth(b.token),
    });
    expect(refused.status).toBe(503);
    await refused.body?.cancel();
    // Another client of the space already followed shares its follower.
    const again = await openLive(`${server.url}/api/spaces/${a.space}/live`, auth(a.token));
    expect(again.response.status).toBe(200);
    first.close();
    again.close();
  });

  it('gives each device token and each client address a fair share of an instance’s feeds', async () => {
    // Issue 16, item 3: the instance's capacity was first come, first served.
    const server = await start({ maxLivePerDevice: 2, maxLivePerAddress: 3 });
    const live = (space: string, token: string) =>
      openLive(`${server.url}/api/spaces/${space}/live`, auth(token));
    const a = await createSpace(server.url);
    const b = await createSpace(server.url);
    const [a1, a2] = [await live(a.space, a.token), await live(a.space, a.token)];
    expect([a1.response.status, a2.response.status]).toEqual([200, 200]);
    // A third from the same device is refused at once, with a sentence and Retry-After.
    const a3 = await fetch(`${server.url}/api/spaces/${a.space}/live`, { headers: auth(a.token) });
    expect(a3.status).toBe(429);
    expect(Number(a3.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(errorBodySchema.parse(await a3.json()).error.message).toMatch(
      /This device already has 2/,
    );
    // Another device from the same address gets the address's last one, then no more.
    const b1 = await live(b.space, b.token);
    expect(b1.response.status).toBe(200);
    const b2 = await fetch(`${server.url}/api/spaces/${b.space}/live`, { headers: auth(b.token) });
    expect(b2.status).toBe(429);
    expect(errorBodySchema.parse(await b2.json()).error.message).toMatch(
      /Your address already has 3/,
    );
    // A feed that ends gives its share back.
    a1.close();
    await waitFor(() => server.app.stats().liveStreams === 2, 'the closed feed to be let go');
    const again = await live(b.space, b.token);
    expect(again.response.status).toBe(200);
    for (const client of [a2, b1, again]) client.close();
  });
});
