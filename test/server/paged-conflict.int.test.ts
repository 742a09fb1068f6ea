import { afterEach, describe, expect, it } from 'vitest';
import { limits } from '../../core/protocol.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { serializeEvent, type Envelope } from '../../server/stored-event.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import type { RunningServer } from '../../server/server.ts';
import { events, startTestServer, waitFor } from './fixtures.ts';

/**
 * Issue 13, item 2, from the device's side: the sync client of worker/, unchanged, against a
 * conflict answered one page at a time. It takes each page as confirmed, rebases, pushes again
 * with the new expectedVersion, gets the next page, and ends accepted and equal to the server.
 */
const sync = syncServerFixture({ instances: 0 });
const devices: Device[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const device of devices.splice(0)) await device.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('a device whose push is behind by several pages', () => {
  it('pages through the conflict, rebases, and converges on the server’s stream', async () => {
    // The request log tells how many pushes it took.
    const pushes: number[] = [];
    const server = await startTestServer(sync.redis.url, {
      log: (line) => {
        if ('path' in line && line.path.endsWith('/push')) pushes.push(line.status);
      },
    });
    servers.push(server);
    const a = await openDevice();
    devices.push(a);
    const id = counterId(90);
    await a.engine.execute(id, { type: 'create', name: 'Long' });
    const { space } = await a.sync.startSync(server.url);
    await synced(a);
    // Its cursor past its own create stored (a moment after the echo): going offline before
    // that, it would come back joining from the space's snapshots, which read the stream's
    // events, not the conflict this test is about.
    await waitFor(
      async () => (await a.engine.db.get('meta', 'cursor')) !== undefined,
      'the feed cursor to be stored',
    );

    a.sync.setOnline(false);
    await a.engine.execute(id, { type: 'increment' });
    // Meanwhile the stream grew by 2.5 pages on the server, where only a push will see it: the
    // events are in the stream's list, not in the feed the device catches up from.
    const behind = Math.round(2.5 * limits.maxConflictEvents);
    const theirs = events(
      id,
      1,
      Array.from({ length: behind }, () => 'Incremented' as const),
    );
    await sync.redis.client.rpush(
      redisKeys.stream(space, id),
      ...theirs.map((event) => serializeEvent(event as Envelope)),
    );
    a.sync.setOnline(true);

    const held = await converged([a], sync.redis, space);
    expect(held[id]).toHaveLength(1 + behind + 1);
    // The create; then three pages of conflict (1,000, 1,000, 500) and the accepted push.
    expect(pushes.length).toBeGreaterThanOrEqual(5);
    expect(pushes.every((status) => status === 200)).toBe(true);
    await waitFor(
      async () => (await listCounters(a.engine)).find((row) => row.id === id)?.value === behind + 1,
      'the device to count every increment',
    );
  });
});
