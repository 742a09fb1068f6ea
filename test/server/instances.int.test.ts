import { beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, createSpace, events, openLive, push, pushBody, streamOf } from './fixtures.ts';

const sync = syncServerFixture({ instances: 2 });
let a: RunningServer;
let b: RunningServer;

beforeAll(() => {
  [a, b] = sync.servers as [RunningServer, RunningServer];
});

describe('two server instances on one Redis', () => {
  it('delivers live on A what a device pushed to B, and the other way round', async () => {
    // Created on A, used on B: tokens are signed with the shared secret, no shared state.
    const { space, token } = await createSpace(a.url);
    const onA = await openLive(`${a.url}/api/spaces/${space}/live`, auth(token));
    const onB = await openLive(`${b.url}/api/spaces/${space}/live`, auth(token));

    const stream = streamOf();
    const first = events(stream, 0, ['Created']);
    expect((await push(b.url, space, token, pushBody(stream, 0, first))).status).toBe(200);
    const second = events(stream, 1, ['Incremented']);
    expect((await push(a.url, space, token, pushBody(stream, 1, second))).status).toBe(200);

    for (const live of [onA, onB]) {
      const entries = await live.waitForEntries(2);
      expect(entries.map((entry) => entry.event)).toEqual([...first, ...second]);
    }
    onA.close();
    onB.close();
  });

  it('answers a conflict on A for a push that raced one on B', async () => {
    const { space, token } = await createSpace(a.url);
    const stream = streamOf();
    const mine = events(stream, 0, ['Created']);
    const theirs = events(stream, 0, ['Created']);
    const [ra, rb] = await Promise.all([
      push(a.url, space, token, pushBody(stream, 0, mine)),
      push(b.url, space, token, pushBody(stream, 0, theirs)),
    ]);
    const statuses = [
      (await ra.json()) as { results: { status: string }[] },
      (await rb.json()) as { results: { status: string }[] },
    ]
      .map((body) => body.results[0]?.status)
      .sort();
    expect(statuses).toEqual(['accepted', 'conflict']);
  });
});
