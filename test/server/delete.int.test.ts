import { describe, expect, it } from 'vitest';
import { errorBodySchema, pullResponseSchema, pushResponseSchema } from '../../core/protocol.ts';
import type { StreamSnapshot } from '../../core/stream-snapshot.ts';
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

/** `DELETE /api/spaces/:space/streams/:stream`: a counter deleted forever, for every device. */
const sync = syncServerFixture();

const remove = (space: string, token: string, stream: string, method = 'DELETE') =>
  fetch(`${sync.url}/api/spaces/${space}/streams/${stream}`, { method, headers: auth(token) });

async function pushed(
  space: string,
  token: string,
  stream: string,
  after: number,
  kinds: Parameters<typeof events>[2],
) {
  const sent = events(stream, after, kinds);
  const response = await push(sync.url, space, token, pushBody(stream, after, sent));
  expect(pushResponseSchema.parse(await response.json()).results[0]?.status).toBe('accepted');
  return sent;
}

const pull = async (space: string, token: string) =>
  pullResponseSchema.parse(
    await (await fetch(`${sync.url}/api/spaces/${space}/events`, { headers: auth(token) })).json(),
  );

/** What Redis holds of the spaces' data: the request counters aside (every request counts). */
const data = async () =>
  Object.fromEntries(
    Object.entries((await sync.redis.snapshot()).dumps).filter(
      ([key]) => !/:(rate|seen|refused|create)$/.test(key),
    ),
  );

const errorOf = async (response: Response) => errorBodySchema.parse(await response.json()).error;

describe('deleting an archived counter forever', () => {
  it('removes its events from the server, leaves a tombstone in the feed, and wakes live feeds', async () => {
    const { space, token } = await createSpace(sync.url);
    const kept = streamOf();
    const gone = streamOf();
    const keptEvents = await pushed(space, token, kept, 0, ['Created', 'Incremented']);
    const goneEvents = await pushed(space, token, gone, 0, ['Created', 'Incremented']);
    goneEvents.push(...(await pushed(space, token, gone, 2, ['Archived'])));
    const live = await openLive(
      `${sync.url}/api/spaces/${space}/live?after=${(await pull(space, token)).cursor}`,
      auth(token),
    );

    const answer = await remove(space, token, gone);
    expect(answer.status).toBe(204);

    const [tombstone] = await live.waitForEntries(1);
    live.close();
    expect(tombstone?.event).toMatchObject({ stream: gone, version: 4, type: 'Deleted', data: {} });
    // The feed holds the other counter's events and the tombstone, nothing else of the stream.
    const { entries } = await pull(space, token);
    expect(entries.map(({ event }) => event)).toEqual([...keptEvents, tombstone!.event]);
    expect(await sync.redis.client.exists(redisKeys.stream(space, gone))).toBe(0);
    const ids = await sync.redis.client.hkeys(redisKeys.ids(space));
    expect(ids.sort()).toEqual(keptEvents.map((event) => event.id).sort());
    expect(goneEvents.some((event) => ids.includes(event.id))).toBe(false);

    // A retried DELETE (its answer was lost) is done already, and costs no pass over the feed
    // (the sweep ran once; each pass reads the whole feed).
    const feedReads = async () =>
      Number(
        /cmdstat_xrange:calls=(\d+)/.exec(await sync.redis.client.info('commandstats'))?.[1] ?? 0,
      );
    const readsBefore = onCluster ? 0 : await feedReads();
    for (let retry = 0; retry < 3; retry++)
      expect((await remove(space, token, gone)).status).toBe(204);
    if (!onCluster) expect(await feedReads()).toBe(readsBefore);
    expect((await pull(space, token)).entries).toHaveLength(3);
  });

  it('answers a push to it (a device that was offline) with the tombstone alone, storing nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 0, ['Created']);
    await pushed(space, token, stream, 1, ['Archived']);
    expect((await remove(space, token, stream)).status).toBe(204);
    const before = await data();

    for (const [after, kinds] of [
      [1, ['Incremented']],
      [0, ['Created', 'Incremented']],
    ] as const) {
      const response = await push(
        sync.url,
        space,
        token,
        pushBody(stream, after, events(stream, after, kinds)),
      );
      expect(response.status).toBe(200);
      const [result] = pushResponseSchema.parse(await response.json()).results;
      expect(result).toMatchObject({ stream, status: 'conflict', version: 3 });
      expect(result?.status === 'conflict' && result.events.map((e) => e.type)).toEqual([
        'Deleted',
      ]);
    }
    expect(await data()).toEqual(before);
  });

  it('refuses a counter that is not archived (or was restored), and changes nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const live = streamOf();
    await pushed(space, token, live, 0, ['Created', 'Incremented']);
    const restored = streamOf();
    await pushed(space, token, restored, 0, ['Created', 'Archived', 'Restored']);
    const before = await data();
    for (const stream of [live, restored]) {
      const answer = await remove(space, token, stream);
      expect(answer.status).toBe(409);
      expect((await errorOf(answer)).message).toMatch(
        /^Only an archived counter can be deleted forever, and “Counter 0” is not archived\. Nothing was deleted\.$/,
      );
    }
    expect(await data()).toEqual(before);
  });

  it('answers what it cannot delete with a clear error, and changes nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const other = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 0, ['Created', 'Archived']);
    const before = await data();
    const cases: [string, string, number, RegExp][] = [
      ['board-main', token, 400, /Streams of kind “board” cannot be deleted\./],
      ['nothing-like!a*stream', token, 400, /not a stream id/],
      ['widget-abc', token, 400, /unknown kind/],
      [stream, other.token, 403, /./],
      [stream, 't1.garbage.garbage', 401, /./],
    ];
    for (const [target, bearer, status, message] of cases) {
      const answer = await remove(space, bearer, encodeURIComponent(target));
      expect(answer.status, target).toBe(status);
      expect((await errorOf(answer)).message).toMatch(message);
    }
    // A counter the space does not hold is not there afterwards either: 204, nothing written
    // (a 404 is left to what no route serves, so a device never mistakes one for the other).
    expect((await remove(space, token, streamOf())).status).toBe(204);
    expect(await data()).toEqual(before);
  });

  it('answers every other method with 405 and Allow: DELETE, before anything runs', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 0, ['Created', 'Archived']);
    const before = await data();
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'OPTIONS']) {
      const answer = await remove(space, token, stream, method);
      expect(answer.status, method).toBe(405);
      expect(answer.headers.get('Allow'), method).toBe('DELETE');
      if (method !== 'HEAD') expect((await errorOf(answer)).message).toMatch(/DELETE/);
    }
    expect(await data()).toEqual(before);
  });

  it('decides from the stream’s snapshot and the events after it, never reading those before it', async () => {
    const { space, token } = await createSpace(sync.url);
    const increments = (count: number) =>
      Array.from({ length: count }, () => 'Incremented' as const);
    const [archived, counting] = [streamOf(), streamOf()];
    for (const [stream, last] of [
      [archived, 'Archived'],
      [counting, 'Incremented'],
    ] as const) {
      // 250 events: the push passed 100 and 200 events, so the server keeps a snapshot of them
      // (snapshots.ts); the next 30 are after it.
      await pushed(space, token, stream, 0, ['Created', ...increments(249)]);
      await waitFor(async () => {
        const raw = await sync.redis.client.hget(redisKeys.snaps(space), stream);
        return raw !== null && raw !== '0' && (JSON.parse(raw) as StreamSnapshot).version === 250;
      }, 'the snapshot at 250 events');
      await pushed(space, token, stream, 250, [...increments(29), last]);
      // Every event the snapshot holds but its last (whose id says the snapshot is of this list)
      // made unreadable: a deletion that read them would fail on them.
      const garbled = sync.redis.client.pipeline();
      for (let index = 0; index < 249; index++)
        garbled.lset(redisKeys.stream(space, stream), index, 'not an event');
      await garbled.exec();
    }

    const refused = await remove(space, token, counting);
    expect(refused.status).toBe(409);
    expect((await errorOf(refused)).message).toMatch(/“Counter 0” is not archived\./);
    expect(await sync.redis.client.llen(redisKeys.stream(space, counting))).toBe(280);

    expect((await remove(space, token, archived)).status).toBe(204);
    expect(await sync.redis.client.exists(redisKeys.stream(space, archived))).toBe(0);
    const tombstone = (await pull(space, token)).entries.find(
      ({ event }) => event.stream === archived,
    );
    expect(tombstone?.event).toMatchObject({ type: 'Deleted', version: 281 });
  });

  it('reads a long stream with no snapshot it can use a page at a time, and decides it the same', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const list = redisKeys.stream(space, stream);
    await pushed(space, token, stream, 0, ['Created']);
    // Straight into Redis, as a stream grown before its snapshots were kept: 2,500 events, none
    // folded (a snapshot of an older model shape, or cut by a failover, is not used either).
    const rest = events(stream, 1, [
      ...Array.from({ length: 2_497 }, () => 'Incremented' as const),
      'Archived',
      'Incremented',
    ]);
    await sync.redis.client.rpush(list, ...rest.map((event) => serializeEvent(event as Envelope)));
    expect(await sync.redis.client.hget(redisKeys.snaps(space), stream)).toBe('0');

    // What the server reads of the list, as Redis executes it (MONITOR: one node only).
    const ranges: [number, number][] = [];
    const monitor = onCluster ? undefined : await sync.redis.client.monitor();
    const marker = `delete-test-${stream}`;
    let marked = false;
    monitor?.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'lrange' && args[1] === list)
        ranges.push([Number(args[2]), Number(args[3])]);
      if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) marked = true;
    });
    try {
      expect((await remove(space, token, stream)).status).toBe(204);
      if (monitor) {
        await sync.redis.client.echo(marker);
        await waitFor(() => marked, 'MONITOR to show the deletion’s commands');
        expect(ranges).toEqual([
          [0, 999],
          [1_000, 1_999],
          [2_000, 2_999],
        ]);
      }
    } finally {
      monitor?.disconnect();
    }
    const tombstone = (await pull(space, token)).entries.find(
      ({ event }) => event.stream === stream,
    );
    expect(tombstone?.event).toMatchObject({ type: 'Deleted', version: 2_501 });
  });

  it('a device cannot push the tombstone itself', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    await pushed(space, token, stream, 0, ['Created', 'Archived']);
    const [event] = events(stream, 2, ['Archived']);
    const answer = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 2, [{ ...event, type: 'Deleted' }]),
    );
    expect(answer.status).toBe(400);
    expect((await errorOf(answer)).message).toMatch(/Only the server deletes a counter/);
    await waitFor(
      async () => (await sync.redis.client.llen(redisKeys.stream(space, stream))) === 2,
      'the stream to stay',
    );
  });
});
