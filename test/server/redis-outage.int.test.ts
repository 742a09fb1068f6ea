import { describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
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

const sync = syncServerFixture();

const health = async () => {
  const response = await fetch(`${sync.server.url}/api/health`);
  return { status: response.status, body: (await response.json()) as unknown };
};

describe('Redis going away and coming back', () => {
  it('answers 503 at once while Redis is down, and heals by itself', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const stream = streamOf();
    const first = events(stream, 0, ['Created']);
    expect((await push(sync.server.url, space, token, pushBody(stream, 0, first))).status).toBe(
      200,
    );
    const node = `127.0.0.1:${sync.redis.port}`;
    expect(await health()).toEqual({
      status: 200,
      body: { ok: true, redis: 'up', masters: [{ node, redis: 'up' }] },
    });

    // A live client stays connected through the outage.
    const live = await openLive(`${sync.server.url}/api/spaces/${space}/live`, auth(token));
    await live.waitForEntries(1);

    await sync.redis.stop();
    await waitFor(async () => (await health()).status === 503, 'health to report Redis down');
    expect(await health()).toEqual({
      status: 503,
      body: { ok: false, redis: 'down', masters: [{ node, redis: 'down' }] },
    });

    const second = events(stream, 1, ['Incremented']);
    const failed = await push(sync.server.url, space, token, pushBody(stream, 1, second));
    expect(failed.status).toBe(503);
    expect(errorBodySchema.parse(await failed.json()).error.code).toBe('unavailable');
    const pull = await fetch(`${sync.server.url}/api/spaces/${space}/events`, {
      headers: auth(token),
    });
    expect(pull.status).toBe(503);
    const liveWhileDown = await fetch(`${sync.server.url}/api/spaces/${space}/live`, {
      headers: auth(token),
    });
    expect(liveWhileDown.status).toBe(503);
    expect(errorBodySchema.parse(await liveWhileDown.json()).error.code).toBe('unavailable');
    // Creating a space stores nothing, but it is counted per client address: no database, no
    // count, and the limit does not lift itself while Redis is away.
    const created = await fetch(`${sync.server.url}/api/spaces`, { method: 'POST' });
    expect(created.status).toBe(503);
    expect(errorBodySchema.parse(await created.json()).error.code).toBe('unavailable');

    await sync.redis.restart();
    await waitFor(async () => (await health()).status === 200, 'health to report Redis up');

    // The data survived (append-only file), the retried push goes through, the live client sees it.
    const retried = await push(sync.server.url, space, token, pushBody(stream, 1, second));
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ results: [{ stream, status: 'accepted', version: 2 }] });
    const entries = await live.waitForEntries(2);
    expect(entries.map((entry) => entry.event)).toEqual([...first, ...second]);
    live.close();
  });

  it('runs without a database at all when told to', async () => {
    const { startServer } = await import('../../server/server.ts');
    const bare = await startServer({
      redis: false,
      secret: 'x'.repeat(32),
      log: false,
      staticDir: false,
    });
    try {
      const response = await fetch(`${bare.url}/api/health`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ ok: false, redis: 'down', masters: [] });
      const { space, token } = await createSpace(bare.url);
      const stream = streamOf();
      const pushed = await push(
        bare.url,
        space,
        token,
        pushBody(stream, 0, events(stream, 0, ['Created'])),
      );
      expect(pushed.status).toBe(503);
    } finally {
      await bare.close();
    }
  });
});
