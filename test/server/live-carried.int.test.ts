import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { FeedEntry } from '../../core/protocol.ts';
import { maxCarriedBytes } from '../../server/append-script.ts';
import { createLiveFeed, type LiveFeed } from '../../server/live-feed.ts';
import { validatePush } from '../../server/push-validation.ts';
import { createRedisStore, redisKeys } from '../../server/redis-store.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { onCluster, syncServerFixture } from '../helpers/sync-server.ts';
import {
  auth,
  createSpace,
  events,
  openLive,
  push,
  pushBody,
  streamOf,
  waitFor,
} from './fixtures.ts';

/**
 * A push's wake-up carries the feed entries it added (append-script.ts): a follower at the entry
 * before them sends them on with no read of the feed; anything else reads it, as before. Redis's
 * own command counts say what was read (on one node: a Cluster's are per node, so there only what
 * is delivered is checked). No timer reads meanwhile.
 */
const sync = syncServerFixture({ server: { liveRereadMs: 600_000 } });

/** How many times Redis ran XRANGE (the live feed's read) so far; 0 on a Cluster. */
const feedReads = async () => {
  if (onCluster) return 0;
  const stats = await sync.redis.client.info('commandstats');
  return Number(/cmdstat_xrange:calls=(\d+)/.exec(stats)?.[1] ?? 0);
};

const pushed = async (space: string, token: string, stream: string, after: number, n: number) => {
  const kinds: ('Created' | 'Incremented')[] = after === 0 ? ['Created'] : [];
  while (kinds.length < n) kinds.push('Incremented');
  const response = await push(
    sync.url,
    space,
    token,
    pushBody(stream, after, events(stream, after, kinds)),
  );
  expect(response.status).toBe(200);
};

describe('a push’s wake-up carrying its entries', () => {
  it('is sent on as it is by a follower at the entry before them, with no read of the feed', async () => {
    const { space, token } = await createSpace(sync.url);
    const [stream, other, third] = [streamOf(), streamOf(), streamOf()];
    for (const s of [other, third, stream]) await pushed(space, token, s, 0, s === stream ? 2 : 1);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(4);
    const reads = await feedReads();
    for (let n = 0; n < 3; n++) {
      await pushed(space, token, stream, 2 + n, 1);
      await live.waitForEntries(5 + n);
    }
    expect(await feedReads()).toBe(reads);
    // What the feed holds, in its order, each once.
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    expect(live.entries().map(({ cursor }) => cursor)).toEqual(feed.map(([id]) => id));
    expect(
      live.entries().flatMap(({ event }) => (event.stream === stream ? [event.version] : [])),
    ).toEqual([1, 2, 3, 4, 5]);
    // A push to several streams: carried whole, in the feed's order. (The test's own XRANGE
    // above counts: counted from here.)
    const readsNow = await feedReads();
    const response = await push(sync.url, space, token, {
      streams: [other, third].map((s) => ({
        stream: s,
        expectedVersion: 1,
        events: events(s, 1, ['Incremented', 'Incremented']),
      })),
    });
    expect(response.status).toBe(200);
    await live.waitForEntries(11);
    expect(await feedReads()).toBe(readsNow);
    const all = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    expect(live.entries().map(({ cursor }) => cursor)).toEqual(all.map(([id]) => id));
    expect(
      live
        .entries()
        .slice(7)
        .map(({ event }) => [event.stream, event.version]),
    ).toEqual([
      [other, 2],
      [other, 3],
      [third, 2],
      [third, 3],
    ]);
    live.close();
  });

  it('is read instead when the push is too large to carry, or the follower missed an entry', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 0, 1);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(1);
    let reads = await feedReads();
    // 1,000 events are more bytes than a wake-up carries.
    await pushed(space, token, stream, 1, 1_000);
    expect(
      JSON.stringify(events(stream, 1, Array(1_000).fill('Incremented'))).length,
    ).toBeGreaterThan(maxCarriedBytes);
    await live.waitForEntries(1_001);
    if (!onCluster) expect(await feedReads()).toBeGreaterThan(reads);
    // An entry the follower never heard of (its wake-up lost): the next one is not sent on
    // blind; the feed is read from the follower's cursor, and nothing is missed.
    const newest = await sync.redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1);
    const fields = newest[0]![1];
    await sync.redis.client.xadd(redisKeys.feed(space), '*', ...fields);
    reads = await feedReads();
    await pushed(space, token, stream, 1_001, 1);
    await waitFor(() => live.entries().length === 1_003, 'the unheard entry and the new one');
    if (!onCluster) expect(await feedReads()).toBeGreaterThan(reads);
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    expect(live.entries().map(({ cursor }) => cursor)).toEqual(feed.map(([id]) => id));
    live.close();
  });
});

describe('the instance that ran a push', () => {
  it('sends its entries to its own followers at once, without waiting for pub/sub', async () => {
    // The store writes to one Redis; the live feed listens for wake-ups on another, which hears
    // nothing of the pushes: only the store's own word (`appended`) can bring the entries.
    const [data, elsewhere] = [await startRedisServer(), await startRedisServer()];
    const [writer, listener] = [new Redis(data.url), new Redis(elsewhere.url)];
    const made: { live?: LiveFeed } = {};
    const store = createRedisStore(writer, {
      maxEventsPerSpace: 1_000,
      appended: (space, wake) => made.live?.wake(space, wake),
    });
    const live = (made.live = createLiveFeed({ redis: listener, store, rereadMs: 600_000 }));
    try {
      await Promise.all([writer.ping(), listener.ping()]);
      const space = 'space-local-wake';
      const stream = streamOf();
      const got: FeedEntry[] = [];
      const unsubscribe = await live.subscribe(space, {
        entries: (entries) => got.push(...entries),
        closed: () => {},
      });
      for (let n = 0; n < 3; n++) {
        const kinds = n === 0 ? (['Created'] as const) : (['Incremented'] as const);
        await store.append(space, validatePush(pushBody(stream, n, events(stream, n, kinds))));
        // Delivered by the time the append answers: no round trip, no timer.
        expect(got.map(({ event }) => event.version)).toEqual(
          Array.from({ length: n + 1 }, (_, i) => i + 1),
        );
      }
      const feed = await data.client.xrange(redisKeys.feed(space), '-', '+');
      expect(got.map(({ cursor }) => cursor)).toEqual(feed.map(([id]) => id));
      unsubscribe();
    } finally {
      await live.close();
      writer.disconnect();
      listener.disconnect();
      await Promise.all([data.dispose(), elsewhere.dispose()]);
    }
  });
});
