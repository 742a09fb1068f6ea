import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import { errorBodySchema, limits, pushResponseSchema } from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { serializeEvent, type Envelope } from '../../server/stored-event.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import {
  createSpace,
  events,
  push,
  pushBody,
  startTestServer,
  streamOf,
  waitFor,
} from './fixtures.ts';

/**
 * The append script's answers, issue 13: a stale push gets a page of what it missed (item 2), a
 * retry is recognised by its content and an event id names one event (item 6), the quota counts
 * only what would be stored and `accepted.version` is the stream's (item 7).
 */
const sync = syncServerFixture();

const answer = async (response: Response) => {
  expect(response.status).toBe(200);
  return pushResponseSchema.parse(await response.json()).results;
};

/** `count` events of one stream written straight into Redis, as pushes would have. */
async function seed(space: string, stream: string, count: number, feed = false) {
  const all = events(stream, 0, [
    'Created',
    ...Array.from({ length: count - 1 }, () => 'Incremented' as const),
  ]);
  for (let from = 0; from < count; from += 10_000) {
    const chunk = all.slice(from, from + 10_000).map((event) => serializeEvent(event as Envelope));
    const pipeline = sync.redis.client.pipeline();
    pipeline.rpush(redisKeys.stream(space, stream), ...chunk);
    if (feed) for (const json of chunk) pipeline.xadd(redisKeys.feed(space), '*', 'e', json);
    await pipeline.exec();
  }
  return all;
}

describe('a stale push against a long stream (item 2)', () => {
  it('gets one page of the missing events, and /api/health answers meanwhile', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const held = 200_000;
    const seeded = await seed(space, stream, held);
    const mine = events(stream, 0, ['Created']);

    let healthy = 0;
    let worstHealthMs = 0;
    let pushing = true;
    const probing = (async () => {
      while (pushing) {
        const started = performance.now();
        const response = await fetch(`${sync.url}/api/health`);
        expect(response.status).toBe(200);
        await response.body?.cancel();
        worstHealthMs = Math.max(worstHealthMs, performance.now() - started);
        healthy++;
      }
    })();
    const started = performance.now();
    const response = await push(sync.url, space, token, pushBody(stream, 0, mine));
    const text = await response.text();
    const pushMs = performance.now() - started;
    await waitFor(() => healthy > 0, 'a health answer');
    pushing = false;
    await probing;

    console.info(
      `stale push on ${held} events: conflict answer ${Buffer.byteLength(text)} bytes in ${pushMs.toFixed(0)} ms; ` +
        `${healthy} health answers meanwhile, the slowest ${worstHealthMs.toFixed(1)} ms`,
    );
    expect(response.status).toBe(200);
    const [result] = pushResponseSchema.parse(JSON.parse(text)).results;
    expect(result).toMatchObject({ stream, status: 'conflict', version: held, more: true });
    expect(result?.status === 'conflict' && result.events).toEqual(
      seeded.slice(0, limits.maxPullLimit),
    );
    // A page of 1,000 small events, not the 200,000 of the stream (about 50 MB).
    expect(Buffer.byteLength(text)).toBeLessThan(1_048_576);
  });

  it('pages on as a device re-pushes after each conflict, then is accepted', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const seeded = await seed(space, stream, 2_500);
    const seen: EventEnvelope[] = [];
    let expected = 0;
    for (let round = 0; round < 10; round++) {
      const [result] = await answer(
        await push(
          sync.url,
          space,
          token,
          // A history starts with Created (the model's rule for sequences).
          pushBody(
            stream,
            expected,
            events(stream, expected, [expected === 0 ? 'Created' : 'Incremented']),
          ),
        ),
      );
      if (result?.status === 'accepted') {
        expect(result.version).toBe(2_501);
        break;
      }
      expect(result?.status).toBe('conflict');
      if (result?.status !== 'conflict') return;
      expect(result.events.length).toBeLessThanOrEqual(limits.maxPullLimit);
      seen.push(...result.events);
      expected += result.events.length;
      expect(result.more ?? false).toBe(expected < 2_500);
    }
    expect(seen).toEqual(seeded);
    expect(expected).toBe(2_500);
  });

  it('bounds the events of all conflicts of one push together', async () => {
    const { space, token } = await createSpace(sync.url);
    const streams = [streamOf(), streamOf(), streamOf()];
    for (const stream of streams) await seed(space, stream, 800);
    const body = {
      streams: streams.map((stream) => ({
        stream,
        expectedVersion: 0,
        events: events(stream, 0, ['Created']),
      })),
    };
    const results = await answer(await push(sync.url, space, token, body));
    const sizes = results.map((result) =>
      result.status === 'conflict' ? result.events.length : -1,
    );
    expect(sizes).toEqual([800, 200, 0]);
    expect(results.map((result) => result.status === 'conflict' && (result.more ?? false))).toEqual(
      [false, true, true],
    );
  });
});

describe('an event id names one event (item 6)', () => {
  it('answers a retry whose content differs diverged, and stores nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created']);
    await answer(await push(sync.url, space, token, pushBody(stream, 0, first)));
    const [original] = first;
    if (!original) throw new Error('no event');
    const other = { ...original, data: { name: 'Something else' } };
    const [result] = await answer(await push(sync.url, space, token, pushBody(stream, 0, [other])));
    expect(result).toEqual({ stream, status: 'diverged', version: 1 });
    expect(await sync.redis.client.lrange(redisKeys.stream(space, stream), 0, -1)).toEqual([
      serializeEvent(original as Envelope),
    ]);
  });

  it('refuses an id already stored in another stream or at another version', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const [first] = events(stream, 0, ['Created']);
    if (!first) throw new Error('no event');
    await answer(await push(sync.url, space, token, pushBody(stream, 0, [first])));
    // Rate limits are on here, and counting a request is a write: compare the space's data.
    const data = async () =>
      Object.entries((await sync.redis.snapshot()).dumps).filter(
        ([key]) =>
          key.startsWith(`tally:{${space}}`) &&
          !key.endsWith(':rate') &&
          !key.endsWith(':seen') &&
          !key.endsWith(':devices'),
      );
    const before = await data();

    const elsewhere = streamOf();
    const [reused] = events(elsewhere, 0, ['Created']);
    const refused = await push(
      sync.url,
      space,
      token,
      pushBody(elsewhere, 0, [{ ...reused, id: first.id }]),
    );
    expect(refused.status).toBe(400);
    expect(errorBodySchema.parse(await refused.json()).error.message).toContain(first.id);

    const [later] = events(stream, 1, ['Incremented']);
    const again = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 1, [{ ...later, id: first.id }]),
    );
    expect(again.status).toBe(400);
    expect(await data()).toEqual(before);
    expect(before.map(([key]) => key).sort()).toEqual(
      [
        redisKeys.feed(space),
        redisKeys.ids(space),
        redisKeys.snaps(space),
        redisKeys.stream(space, stream),
      ].sort(),
    );
  });
});

describe('the quota and accepted.version (item 7)', () => {
  it('accepts an identical retry into a full space, and answers a stale push a conflict', async () => {
    const server = await startTestServer(sync.redis.url, { maxEventsPerSpace: 3 });
    try {
      const { space, token } = await createSpace(server.url);
      const stream = streamOf();
      const full = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
      await answer(await push(server.url, space, token, pushBody(stream, 0, full)));
      // The answer was lost; the device sends the same push again.
      expect(await answer(await push(server.url, space, token, pushBody(stream, 0, full)))).toEqual(
        [{ stream, status: 'accepted', version: 3 }],
      );
      // Another device, behind: a conflict, not "the space is full".
      const [stale] = await answer(
        await push(
          server.url,
          space,
          token,
          pushBody(stream, 1, events(stream, 1, ['Decremented'])),
        ),
      );
      expect(stale).toMatchObject({ stream, status: 'conflict', version: 3 });
      // Something new still is refused.
      const refused = await push(
        server.url,
        space,
        token,
        pushBody(stream, 3, events(stream, 3, ['Incremented'])),
      );
      expect(refused.status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it('answers accepted with the stream’s version, which others may have moved on', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const mine = events(stream, 0, ['Created', 'Incremented']);
    await answer(await push(sync.url, space, token, pushBody(stream, 0, mine)));
    await answer(
      await push(sync.url, space, token, pushBody(stream, 2, events(stream, 2, ['Incremented']))),
    );
    // The first push's answer was lost; its retry is accepted at the stream's version, 3.
    expect(await answer(await push(sync.url, space, token, pushBody(stream, 0, mine)))).toEqual([
      { stream, status: 'accepted', version: 3 },
    ]);
  });
});
