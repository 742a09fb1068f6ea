import { describe, expect, it } from 'vitest';
import { limits } from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { serializeEvent, type Envelope } from '../../server/stored-event.ts';
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
 * Issue 13, item 3: one `GET /live?after=0` on a long space streamed the whole feed (222 MiB for
 * 999,000 events), counted once against the rate limit. A live feed's catch-up is one page, like
 * one `/events` request; a client further behind pulls the rest.
 */
const sync = syncServerFixture();

describe('the live feed’s catch-up', () => {
  it('sends at most one page, then ends the stream so the client pulls the rest', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const count = 5_000;
    const all = events(stream, 0, [
      'Created',
      ...Array.from({ length: count - 1 }, () => 'Incremented' as const),
    ]);
    const pipeline = sync.redis.client.pipeline();
    for (const event of all)
      pipeline.xadd(redisKeys.feed(space), '*', 'e', serializeEvent(event as Envelope));
    await pipeline.exec();

    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    expect(live.response.status).toBe(200);
    await live.ended();
    const received = live.entries();
    expect(received.map((entry) => entry.event)).toEqual(all.slice(0, limits.maxPullLimit));
    const bytes = live.messages.reduce((sum, message) => sum + message.data.length, 0);
    console.info(
      `live catch-up of a ${count}-entry feed: ${received.length} entries, ${bytes} bytes, then ended`,
    );

    // Resuming where it ended (as EventSource does with Last-Event-ID) gets the next page.
    const next = await openLive(`${sync.url}/api/spaces/${space}/live`, {
      ...auth(token),
      'Last-Event-ID': received.at(-1)?.cursor ?? '',
    });
    await next.ended();
    expect(next.entries().map((entry) => entry.event)).toEqual(
      all.slice(limits.maxPullLimit, 2 * limits.maxPullLimit),
    );
  });
});

/** `CLIENT LIST`, one record per connection. */
const clients = async () =>
  String(await sync.redis.client.call('CLIENT', 'LIST'))
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2))));

/**
 * Issue 13, item 12: a follower whose connection Redis refuses (maxclients) left its clients
 * connected, with heartbeats and never an event.
 */
// One node's maxclients; on a cluster ioredis replaces a refused sharded subscriber by itself.
describe.skipIf(onCluster)('a live follower that Redis refuses', () => {
  it('ends its streams with an error event, and the feed works once Redis takes it again', async () => {
    const { space, token } = await createSpace(sync.url);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live`, auth(token));
    expect(live.response.status).toBe(200);
    const followers = await waitFor(async () => {
      const name = `${sync.server.app.connectionName}-live`;
      const found = (await clients()).filter((client) => client['name'] === name);
      return found.length > 0 && found;
    }, 'the follower’s connection');
    // Every connection there now stays; the follower's next one is refused.
    const connected = (await clients()).length;
    await sync.redis.client.config('SET', 'maxclients', String(connected - followers.length));
    try {
      for (const follower of followers)
        await sync.redis.client.call('CLIENT', 'KILL', 'ID', follower['id'] ?? '');
      await live.ended();
    } finally {
      await sync.redis.client.config('SET', 'maxclients', '10000');
    }
    const [error] = live.messages.filter((message) => message.event === 'error');
    expect(error?.data).toMatch(/cannot follow this space live/);

    const again = await openLive(`${sync.url}/api/spaces/${space}/live`, auth(token));
    const stream = streamOf();
    const sent = events(stream, 0, ['Created']);
    expect((await push(sync.url, space, token, pushBody(stream, 0, sent))).status).toBe(200);
    expect((await again.waitForEntries(1)).map((entry) => entry.event)).toEqual(sent);
    again.close();
  });
});
