import { afterEach, expect, it } from 'vitest';
import type { RunningServer } from '../../server/server.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { deviceFixture, synced } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { startTestServer, waitFor } from '../server/fixtures.ts';

// Redis from the fixture; the server instances are this file's, stopped and started again.
const sync = syncServerFixture({ instances: 0 });
const device = deviceFixture();
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('resumes within seconds of the server coming back, however long its backoff has grown', async () => {
  server = await startTestServer(sync.redis.url);
  const port = server.port;
  // A backoff of a whole minute: only the health probe can bring sync back sooner.
  const a = await device({ backoff: { baseMs: 60_000, maxMs: 60_000 } });
  const id = counterId('resume');
  await a.engine.execute(id, { type: 'create', name: 'Water' });
  const { space } = await a.sync.startSync(server.url);
  await synced(a);

  await server.close();
  server = undefined;
  await a.engine.execute(id, { type: 'increment' });
  // The push fails and waits out its minute; the live feed is down too.
  await waitFor(
    () => a.sync.current().state === 'offline' && a.sync.current().pending === 1,
    'a to be offline with 1 pending',
  );

  server = await startTestServer(sync.redis.url, { port });
  const back = Date.now();
  await synced(a, 20_000);
  const took = Date.now() - back;
  expect(a.sync.current().space).toBe(space);
  expect((await listCounters(a.engine)).map((row) => row.value)).toEqual([1]);
  console.info(`sync resumed ${took} ms after the server came back (backoff 60 s)`);
});
