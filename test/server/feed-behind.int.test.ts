import { describe, expect, it } from 'vitest';
import { pullResponseSchema } from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
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
 * Issue 16, item 4, the server's half: after a failover the feed can hold less than a device saw.
 * The server says so (the catch-up answers the feed's head as the cursor, before the device's),
 * and ends live streams whose follower is past the head once Redis is back, so devices catch up.
 * Single node only: losing the last writes is done by hand, as a promoted replica loses them.
 */
const sync = syncServerFixture();

async function pushed(space: string, token: string, stream: string, count: number) {
  const response = await push(
    sync.url,
    space,
    token,
    pushBody(stream, 0, events(stream, 0, ['Created', ...Array(count - 1).fill('Incremented')])),
  );
  expect(response.status).toBe(200);
}

const pull = async (space: string, token: string, after: string) => {
  const response = await fetch(`${sync.url}/api/spaces/${space}/events?after=${after}`, {
    headers: auth(token),
  });
  expect(response.status).toBe(200);
  return pullResponseSchema.parse(await response.json());
};

/** The feed's last entry is lost, with its stream's tail. */
async function loseLast(space: string, stream: string) {
  const [newest] = await sync.redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1);
  const entry = newest![0];
  await sync.redis.client.xdel(redisKeys.feed(space), entry);
  await sync.redis.client.rpop(redisKeys.stream(space, stream));
  return entry;
}

describe('a feed that went back', () => {
  it('answers its head as the cursor when a device asks after it', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 3);
    const { entries, cursor } = await pull(space, token, '0');
    expect(entries).toHaveLength(3);
    const lost = await loseLast(space, stream);
    expect(lost).toBe(cursor);
    const behind = await pull(space, token, cursor);
    expect(behind).toEqual({ entries: [], cursor: entries[1]!.cursor, more: false });
    // At the head, or with nothing new, the cursor stays the device's.
    expect((await pull(space, token, entries[1]!.cursor)).cursor).toBe(entries[1]!.cursor);
    // An empty feed: back to the beginning.
    const other = await createSpace(sync.url);
    expect((await pull(other.space, other.token, '5-0')).cursor).toBe('0');
  });

  it('ends the live streams it follows past the head once Redis is back', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 2);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(2);
    await loseLast(space, stream);
    // What a failover does to the subscriber connection: it reconnects and resubscribes.
    await sync.redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await live.ended();
    expect(live.entries()).toHaveLength(2);
  });

  it('keeps live streams whose follower is not past the head when Redis comes back', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 1);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(1);
    await sync.redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Still delivering after the reconnect.
    const next = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 1, events(stream, 1, ['Incremented'])),
    );
    expect(next.status).toBe(200);
    await waitFor(() => live.entries().length === 2, 'the next entry live');
    live.close();
  });
});
