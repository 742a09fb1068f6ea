import { Cluster, type Redis } from 'ioredis';
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
 * The server says so (a catch-up from an entry the feed no longer holds answers `wentBack` and
 * the newest entry before it as the cursor, however many entries were added since), and ends
 * live streams whose follower's entry is gone once Redis is back, so devices catch up.
 * Losing the last writes is done by hand, as a promoted replica loses them (on the cluster too).
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

/**
 * What a failover does to the instances' subscriber connections: they reconnect and resubscribe
 * (on the cluster, on every master: the space's shard is one of them).
 */
async function killSubscribers() {
  const client = sync.redis.client as Redis | Cluster;
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  await Promise.all(nodes.map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')));
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
    expect(behind).toEqual({
      entries: [],
      cursor: entries[1]!.cursor,
      more: false,
      wentBack: true,
    });
    // At the head, or with nothing new, the cursor stays the device's.
    expect((await pull(space, token, entries[1]!.cursor)).cursor).toBe(entries[1]!.cursor);
    // An empty feed: back to the beginning.
    const other = await createSpace(sync.url);
    expect((await pull(other.space, other.token, '5-0')).cursor).toBe('0');
  });

  it('says so when entries were added since, past the lost one, on /events and /live', async () => {
    const { space, token } = await createSpace(sync.url);
    const [stream, other] = [streamOf(), streamOf()];
    await pushed(space, token, stream, 3);
    const { entries, cursor } = await pull(space, token, '0');
    await loseLast(space, stream);
    // Another device writes: the feed's head is past the lost entry again.
    await pushed(space, token, other, 1);
    expect(await pull(space, token, cursor)).toEqual({
      entries: [],
      cursor: entries[1]!.cursor,
      more: true,
      wentBack: true,
    });
    // Read on from there: the new entry, and nothing went back.
    const next = await pull(space, token, entries[1]!.cursor);
    expect(next.wentBack).toBeUndefined();
    expect(next.entries.map((entry) => entry.event.stream)).toEqual([other]);
    // The live feed says it too, where the feed went back to, and ends: its client catches up.
    const live = await openLive(
      `${sync.url}/api/spaces/${space}/live?after=${cursor}`,
      auth(token),
    );
    await live.ended();
    expect(live.messages).toEqual([{ id: undefined, event: 'wentBack', data: entries[1]!.cursor }]);
  });

  it('ends the live streams it follows past the head once Redis is back', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 2);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(2);
    await loseLast(space, stream);
    // What a failover does to the subscriber connection: it reconnects and resubscribes.
    await killSubscribers();
    await live.ended();
    expect(live.entries()).toHaveLength(2);
  });

  it('ends them when their entry is gone though entries were added since', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 2);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    const [, last] = await live.waitForEntries(2);
    await loseLast(space, stream);
    // A write the follower was not woken for (its wake-up lost with the failover): the head is
    // past the follower's cursor, which the feed no longer holds. Whether the follower's timer
    // reads it first or the resubscription's recheck looks, the streams end, and the entry
    // read from the lost cursor is not sent on.
    await sync.redis.client.xadd(redisKeys.feed(space), '*', 'e', JSON.stringify(last!.event));
    await killSubscribers();
    await live.ended();
    expect(live.entries()).toHaveLength(2);
  });

  it('keeps following when its entry was swept out with a stream deleted forever', async () => {
    const { space, token } = await createSpace(sync.url);
    const [gone, kept] = [streamOf(), streamOf()];
    await pushed(space, token, kept, 1);
    await pushed(space, token, gone, 1);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    const [, swept] = await live.waitForEntries(2);
    // What the deletion leaves when its wake-up reaches the follower only after the sweep: the
    // stream's tombstone set, its entries gone from the feed (the follower's cursor with them).
    await sync.redis.client.hset(redisKeys.deleted(space), gone, JSON.stringify(swept!.event));
    await sync.redis.client.xdel(redisKeys.feed(space), swept!.cursor);
    const next = await push(
      sync.url,
      space,
      token,
      pushBody(kept, 1, events(kept, 1, ['Incremented'])),
    );
    expect(next.status).toBe(200);
    await waitFor(() => live.entries().length === 3, 'the next entry live');
    await killSubscribers();
    await pushed(space, token, streamOf(), 1);
    await waitFor(() => live.entries().length === 4, 'an entry after the recheck');
    live.close();
  });

  it('keeps live streams whose follower is not past the head when Redis comes back', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 1);
    const live = await openLive(`${sync.url}/api/spaces/${space}/live?after=0`, auth(token));
    await live.waitForEntries(1);
    await killSubscribers();
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
