import { describe, expect, it } from 'vitest';
import {
  createSpaceResponseSchema,
  pullResponseSchema,
  pushResponseSchema,
  type PushResponse,
} from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { connectionsNamed } from '../helpers/redis-cluster.ts';
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
} from './fixtures.ts';

const sync = syncServerFixture();

const pushOk = async (space: string, token: string, body: unknown): Promise<PushResponse> => {
  const response = await push(sync.server.url, space, token, body);
  expect(response.status).toBe(200);
  return pushResponseSchema.parse(await response.json());
};

const pull = async (space: string, token: string, query = '') => {
  const response = await fetch(`${sync.server.url}/api/spaces/${space}/events${query}`, {
    headers: auth(token),
  });
  expect(response.status).toBe(200);
  return pullResponseSchema.parse(await response.json());
};

describe('spaces', () => {
  it('creates a space with a token for it', async () => {
    const response = await fetch(`${sync.server.url}/api/spaces`, { method: 'POST' });
    expect(response.status).toBe(201);
    const body = createSpaceResponseSchema.parse(await response.json());
    const other = await createSpace(sync.server.url);
    expect(other.space).not.toBe(body.space);
    expect(sync.server.app.tokens.verify(body.token)?.space).toBe(body.space);
  });

  it('refuses to create spaces when the server does not allow it', async () => {
    const closed = await startTestServer(sync.redis.url, { allowCreateSpaces: false });
    try {
      const response = await fetch(`${closed.url}/api/spaces`, { method: 'POST' });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
    } finally {
      await closed.close();
    }
  });
});

describe('push and pull', () => {
  it('appends to the stream list and the space feed, and pulls them back in order', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const batch = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    const { results } = await pushOk(space, token, pushBody(stream, 0, batch));
    expect(results).toEqual([{ stream, status: 'accepted', version: 3 }]);

    const stored = await sync.redis.client.lrange(redisKeys.stream(space, stream), 0, -1);
    expect(stored.map((json) => JSON.parse(json) as unknown)).toEqual(batch);
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(3);

    const page = await pull(space, token);
    expect(page.entries.map((entry) => entry.event)).toEqual(batch);
    expect(page.more).toBe(false);
    expect(page.cursor).toBe(page.entries.at(-1)?.cursor);
    // Nothing new after the cursor: the same cursor back.
    const empty = await pull(space, token, `?after=${page.cursor}`);
    expect(empty).toEqual({ entries: [], cursor: page.cursor, more: false });
  });

  it('pushes several streams in one request', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const a = streamOf();
    const b = streamOf();
    const { results } = await pushOk(space, token, {
      streams: [
        { stream: a, expectedVersion: 0, events: events(a, 0, ['Created']) },
        { stream: b, expectedVersion: 0, events: events(b, 0, ['Created', 'Incremented']) },
      ],
    });
    expect(results).toEqual([
      { stream: a, status: 'accepted', version: 1 },
      { stream: b, status: 'accepted', version: 2 },
    ]);
    expect((await pull(space, token)).entries).toHaveLength(3);
  });

  it('pages the feed with after and limit', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const batch = events(stream, 0, [
      'Created',
      'Incremented',
      'Incremented',
      'Incremented',
      'Incremented',
    ]);
    await pushOk(space, token, pushBody(stream, 0, batch));
    const seen = [];
    let cursor = '0';
    for (let more = true; more;) {
      const page = await pull(space, token, `?after=${cursor}&limit=2`);
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((entry) => entry.event.version));
      cursor = page.cursor;
      more = page.more;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers a conflict with the events the device has not seen, and appends nothing', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created', 'Incremented']);
    await pushOk(space, token, pushBody(stream, 0, first));
    // Another device that only knows version 1.
    const stale = events(stream, 1, ['Decremented']);
    const { results } = await pushOk(space, token, pushBody(stream, 1, stale));
    expect(results).toEqual([{ stream, status: 'conflict', version: 2, events: [first[1]] }]);
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(2);
  });

  it('answers diverged when the event at expectedVersion is not the device’s, and appends nothing', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created', 'Incremented']);
    await pushOk(space, token, pushBody(stream, 0, first));
    const next = events(stream, 2, ['Incremented']);
    const claim = (expectedId: string) => ({
      streams: [{ stream, expectedVersion: 2, expectedId, events: next }],
    });
    const { results } = await pushOk(space, token, claim('ev-not-what-the-server-has'));
    expect(results).toEqual([{ stream, status: 'diverged', version: 2 }]);
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(2);
    const agreed = await pushOk(space, token, claim(first[1]!.id));
    expect(agreed.results).toEqual([{ stream, status: 'accepted', version: 3 }]);
  });

  it('answers a conflict when the device claims more than the server has', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const { results } = await pushOk(
      space,
      token,
      pushBody(stream, 3, events(stream, 3, ['Incremented'])),
    );
    expect(results).toEqual([{ stream, status: 'conflict', version: 0, events: [] }]);
  });

  it('accepts a retried push (same event ids) without appending it twice', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const batch = events(stream, 0, ['Created', 'Incremented']);
    await pushOk(space, token, pushBody(stream, 0, batch));
    const again = await pushOk(space, token, pushBody(stream, 0, batch));
    expect(again.results).toEqual([{ stream, status: 'accepted', version: 2 }]);
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(2);
  });

  it('appends only the new tail of a retried push that grew meanwhile', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const batch = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    await pushOk(space, token, pushBody(stream, 0, batch.slice(0, 1)));
    const { results } = await pushOk(space, token, pushBody(stream, 0, batch));
    expect(results).toEqual([{ stream, status: 'accepted', version: 3 }]);
    const stored = await sync.redis.client.lrange(redisKeys.stream(space, stream), 0, -1);
    expect(stored.map((json) => (JSON.parse(json) as { id: string }).id)).toEqual(
      batch.map((e) => e.id),
    );
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(3);
  });

  it('treats same versions with other event ids as a conflict', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const mine = events(stream, 0, ['Created']);
    await pushOk(space, token, pushBody(stream, 0, mine));
    const theirs = events(stream, 0, ['Created']);
    const { results } = await pushOk(space, token, pushBody(stream, 0, theirs));
    expect(results).toEqual([{ stream, status: 'conflict', version: 1, events: mine }]);
  });

  it('lets exactly one of two concurrent pushes at the same version win', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    await pushOk(space, token, pushBody(stream, 0, events(stream, 0, ['Created'])));
    const a = events(stream, 1, ['Incremented', 'Incremented']);
    const b = events(stream, 1, ['Incremented']);
    const [ra, rb] = await Promise.all([
      pushOk(space, token, pushBody(stream, 1, a)),
      pushOk(space, token, pushBody(stream, 1, b)),
    ]);
    const results = [ra.results[0], rb.results[0]];
    const accepted = results.filter((result) => result?.status === 'accepted');
    const conflicts = results.filter((result) => result?.status === 'conflict');
    expect(accepted).toHaveLength(1);
    expect(conflicts).toHaveLength(1);
    const winner = accepted[0] === ra.results[0] ? a : b;
    expect(conflicts[0]).toEqual({
      stream,
      status: 'conflict',
      version: 1 + winner.length,
      events: winner,
    });
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(1 + winner.length);
  });

  it('keeps spaces apart', async () => {
    const one = await createSpace(sync.server.url);
    const two = await createSpace(sync.server.url);
    const stream = streamOf();
    await pushOk(one.space, one.token, pushBody(stream, 0, events(stream, 0, ['Created'])));
    expect((await pull(two.space, two.token)).entries).toEqual([]);
    const { results } = await pushOk(
      two.space,
      two.token,
      pushBody(stream, 0, events(stream, 0, ['Created'])),
    );
    expect(results[0]?.status).toBe('accepted');
  });
});

describe('live feed', () => {
  it('catches up, then follows new pushes, and resumes from Last-Event-ID', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const before = events(stream, 0, ['Created', 'Incremented']);
    await pushOk(space, token, pushBody(stream, 0, before));

    const live = await openLive(`${sync.server.url}/api/spaces/${space}/live`, auth(token));
    expect(live.response.status).toBe(200);
    expect(live.response.headers.get('content-type')).toContain('text/event-stream');
    await live.waitForEntries(2);

    const after = events(stream, 2, ['Incremented']);
    await pushOk(space, token, pushBody(stream, 2, after));
    const entries = await live.waitForEntries(3);
    expect(entries.map((entry) => entry.event)).toEqual([...before, ...after]);
    // Each message's id is the cursor of its last entry.
    const lastMessage = live.messages.at(-1);
    expect(lastMessage?.id).toBe(entries.at(-1)?.cursor);
    await waitFor(() => live.comments() >= 2, 'heartbeats');
    live.close();

    // A device that saw the first two entries resumes after them.
    const resumed = await openLive(`${sync.server.url}/api/spaces/${space}/live`, {
      ...auth(token),
      'Last-Event-ID': entries[1]?.cursor ?? '',
    });
    const rest = await resumed.waitForEntries(1);
    expect(rest.map((entry) => entry.event)).toEqual(after);
    resumed.close();
  });

  it('accepts the token and the cursor in the query, as EventSource needs', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    await pushOk(space, token, pushBody(stream, 0, events(stream, 0, ['Created', 'Incremented'])));
    const { entries } = await pull(space, token);
    const live = await openLive(
      `${sync.server.url}/api/spaces/${space}/live?after=${entries[0]?.cursor}&token=${token}`,
    );
    expect(live.response.status).toBe(200);
    const got = await live.waitForEntries(1);
    expect(got.map((entry) => entry.event.version)).toEqual([2]);
    live.close();
  });

  it('delivers concurrent pushes to every client once, in feed order', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const clients = await Promise.all(
      [1, 2, 3].map(() => openLive(`${sync.server.url}/api/spaces/${space}/live`, auth(token))),
    );
    const streams = [streamOf(), streamOf(), streamOf(), streamOf()];
    await Promise.all(
      streams.map((stream) =>
        pushOk(space, token, pushBody(stream, 0, events(stream, 0, ['Created', 'Incremented']))),
      ),
    );
    const { entries } = await pull(space, token);
    for (const client of clients) {
      const got = await client.waitForEntries(8);
      expect(got).toEqual(entries);
      client.close();
    }
  });

  it('follows a space only while a client is there, on no connection of its own', async () => {
    // Issue 16: a follower was a blocking connection per space. Now the subscriptions of every
    // space share the instance's connections (one per master), whatever the number of spaces.
    const name = sync.server.app.connectionName;
    const before = await connectionsNamed(sync.redis, name);
    const spaces = await Promise.all(
      Array.from({ length: 20 }, () => createSpace(sync.server.url)),
    );
    const lives = await Promise.all(
      spaces.map(({ space, token }) =>
        openLive(`${sync.server.url}/api/spaces/${space}/live`, auth(token)),
      ),
    );
    await waitFor(() => sync.server.app.stats().liveSpaces === 20, 'the 20 spaces to be followed');
    // At most one sharded subscriber per master may have been added (3 masters on the cluster).
    expect(await connectionsNamed(sync.redis, name)).toBeLessThanOrEqual(before + 3);
    for (const live of lives) live.close();
    await waitFor(() => sync.server.app.stats().liveStreams === 0, 'the streams to close');
    expect(sync.server.app.stats().liveSpaces).toBe(0);
  });
});
