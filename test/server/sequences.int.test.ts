import { describe, expect, it } from 'vitest';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { createSpace, events, push, pushBody, streamOf } from './fixtures.ts';

// On one redis-server, and (vitest.config.ts, onClusterToo) again on the shared Redis Cluster.
const sync = syncServerFixture();

describe('only possible histories are accepted', () => {
  it('a second Created on a counter is refused with a 400 naming the rule, storing nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    expect((await push(sync.url, space, token, pushBody(stream, 0, first))).status).toBe(200);
    const before = await sync.redis.client.lrange(`tally:{${space}}:s:${stream}`, 0, -1);

    const again = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 3, events(stream, 3, ['Created'])),
    );
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(
      /counter is created once/,
    );
    // Nor can a history start with anything else.
    const headless = streamOf();
    const noCreate = await push(
      sync.url,
      space,
      token,
      pushBody(headless, 0, events(headless, 0, ['Incremented'])),
    );
    expect(noCreate.status).toBe(400);
    expect(((await noCreate.json()) as { error: { message: string } }).error.message).toMatch(
      /starts with Created/,
    );
    expect(await sync.redis.client.lrange(`tally:{${space}}:s:${stream}`, 0, -1)).toEqual(before);
    expect(await sync.redis.client.exists(`tally:{${space}}:s:${headless}`)).toBe(0);
  });

  it.each([
    ['a long run of spaces', `a${' '.repeat(3_900)}b`, /normalised/],
    ['only a zero-width space', '\u200B', /normalised/],
    ['a lone surrogate', '\uD800', /broken characters/],
    ['61 characters', 'x'.repeat(61), /at most 60/],
    ['decomposed letters (not NFC)', 'Cafe\u0301', /normalised/],
    ['only a Hangul filler (a letter that shows as nothing)', '\u3164', /normalised/],
    ['only the Braille blank', '\u2800', /normalised/],
    [
      'a flag drawn with tags cut short (an invisible tag run)',
      'a\u{E0067}\u{E0062}',
      /normalised/,
    ],
    ['a right-to-left override reordering the name', 'a\u202Eb', /normalised/],
    ['a control character', 'a\u0007b', /normalised/],
  ])('a name with %s is refused with a 400, storing nothing', async (_, name, rule) => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const [created] = events(stream, 0, ['Created']);
    const response = await push(
      sync.url,
      space,
      token,
      pushBody(stream, 0, [{ ...created!, data: { name } }]),
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(rule);
    expect(await sync.redis.client.exists(`tally:{${space}}:s:${stream}`)).toBe(0);
  });

  it('stores an older device’s event in today’s shape, and knows its retry', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const [created, incremented] = events(stream, 0, ['Created', 'Incremented']);
    // As the build before steps wrote it: schema 1, no amount.
    const old = { ...incremented!, data: {}, meta: { ...incremented!.meta, schema: 1 } };
    const body = pushBody(stream, 0, [created, old]);
    const first = await push(sync.url, space, token, body);
    expect(first.status).toBe(200);
    const stored = (await sync.redis.client.lrange(`tally:{${space}}:s:${stream}`, 0, -1)).map(
      (json) => JSON.parse(json) as { data: unknown; meta: { schema: number } },
    );
    expect(stored[1]).toMatchObject({ data: { amount: 1 }, meta: { schema: 2 } });
    // Its answer lost, the old device retries the very same bytes: accepted, nothing doubled.
    const retry = await push(sync.url, space, token, body);
    expect(await retry.json()).toEqual({ results: [{ stream, status: 'accepted', version: 2 }] });
    expect(await sync.redis.client.llen(`tally:{${space}}:s:${stream}`)).toBe(2);
  });
});
