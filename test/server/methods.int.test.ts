import { describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
import { accessKeys } from '../../server/access-store.ts';
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
 * Issue 13, item 1: Hono answers HEAD by running the GET handler and dropping the body without
 * cancelling it, so a HEAD of the live feed held a lease for ever. 20 of them took every live
 * connection of the space and the real device got 429.
 */
const sync = syncServerFixture();

describe('HEAD on the live feed', () => {
  it('is refused with 405, holds no lease, and a real device still gets its feed', async () => {
    const { space, token } = await createSpace(sync.url);
    const url = `${sync.url}/api/spaces/${space}/live`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fetch(url, { method: 'HEAD', headers: auth(token) })),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(405);
      expect(answer.headers.get('Allow')).toBe('GET');
    }
    // What a refused HEAD would have held: a lease in Redis and an open stream here.
    expect(await sync.redis.client.zcard(accessKeys.live(space))).toBe(0);
    await waitFor(() => sync.server.app.stats().inFlight === 0, 'the HEADs to be done');
    expect(sync.server.app.stats().liveStreams).toBe(0);

    const live = await openLive(url, auth(token));
    expect(live.response.status).toBe(200);
    const stream = streamOf();
    const sent = events(stream, 0, ['Created']);
    expect((await push(sync.url, space, token, pushBody(stream, 0, sent))).status).toBe(200);
    expect((await live.waitForEntries(1)).map((entry) => entry.event)).toEqual(sent);
    live.close();
  });

  it('says why in a JSON error, as every refusal does', async () => {
    const { space, token } = await createSpace(sync.url);
    const answer = await fetch(`${sync.url}/api/spaces/${space}/live`, {
      method: 'OPTIONS',
      headers: auth(token),
    });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('Allow')).toBe('GET');
    const body = errorBodySchema.parse(await answer.json());
    expect(body.error.code).toBe('invalid');
    expect(body.error.message).toMatch(/GET/);
  });
});
