import { describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
import { createSyncApp } from '../../server/app.ts';
import type { RequestLog } from '../../server/request-log.ts';
import { memoryStorage } from '../helpers/memory-store.ts';
import { events, pushBody, secret, streamOf } from './fixtures.ts';

/**
 * Routing and validation, with `app.request` over the store interfaces in memory: what these
 * tests are about happens before anything reaches storage. (Storage: the *.int.test.ts files.)
 */
const given = () => {
  const storage = memoryStorage();
  const app = createSyncApp({ redis: false, storage, secret, staticDir: false, log: false });
  const space = 'routes-test-space-000001';
  return { app, storage, space, token: app.tokens.issue(space) };
};

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Each route's methods, as its `Allow` lists them (in the order the routes are defined). */
const served: Record<string, string> = {
  '/api/health': 'GET',
  '/api/spaces': 'POST',
  '/api/spaces/:space/push': 'POST',
  '/api/spaces/:space/events': 'GET',
  '/api/spaces/:space/live': 'GET',
  '/api/spaces/:space/invites': 'POST',
  '/api/spaces/:space/invites/p1.x': 'DELETE',
  '/api/spaces/:space/devices': 'POST, GET',
  '/api/spaces/:space/devices/self': 'PATCH, DELETE',
  '/api/spaces/:space/devices/other': 'DELETE',
};

describe('methods a route does not serve', () => {
  for (const [route, allow] of Object.entries(served))
    for (const method of methods.filter((m) => !allow.split(', ').includes(m)))
      it(`${method} ${route} → 405, Allow: ${allow}`, async () => {
        const { app, storage, space, token } = given();
        const stream = streamOf();
        const response = await app.request(route.replace(':space', space), {
          method,
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          ...(method === 'GET' || method === 'HEAD'
            ? {}
            : { body: JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created']))) }),
        });
        expect(response.status).toBe(405);
        expect(response.headers.get('Allow')).toBe(allow);
        if (method !== 'HEAD') {
          const body = errorBodySchema.parse(await response.json());
          expect(body.error.code).toBe('invalid');
        }
        expect(storage.appended()).toBe(0);
        expect(app.stats()).toEqual({ inFlight: 0, liveStreams: 0, liveSpaces: 0 });
      });

  it('still serves the methods a route does', async () => {
    const { app, space, token } = given();
    expect((await app.request('/api/health')).status).toBe(200);
    const stream = streamOf();
    const pushed = await app.request(`/api/spaces/${space}/push`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created']))),
    });
    expect(pushed.status).toBe(200);
    const pulled = await app.request(`/api/spaces/${space}/events`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(((await pulled.json()) as { entries: unknown[] }).entries).toHaveLength(1);
  });

  it('answers an unknown API path 404, whatever the method', async () => {
    const { app } = given();
    for (const method of methods)
      expect((await app.request('/api/spaces/x/y/z', { method })).status).toBe(404);
  });
});

describe('deeply nested event data (issue 13, item 4)', () => {
  it('is refused with a 400 that says so, and logs no error', async () => {
    const lines: unknown[] = [];
    const storage = memoryStorage();
    const app = createSyncApp({
      redis: false,
      storage,
      secret,
      staticDir: false,
      log: (line) => lines.push(line),
    });
    const space = 'routes-test-space-000002';
    const token = app.tokens.issue(space);
    const stream = streamOf();
    const [event] = events(stream, 0, ['Created']);
    const depth = 100_000;
    // JSON.parse takes it; JSON.stringify of it (to measure the event) overflowed the stack.
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const body = JSON.stringify(
      pushBody(stream, 0, [{ ...event, data: { name: 'x', deep: 0 } }]),
    ).replace('"deep":0', `"deep":${nested}`);
    const response = await app.request(`/api/spaces/${space}/push`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body,
    });
    const answer = errorBodySchema.parse(await response.json());
    expect(response.status).toBe(400);
    expect(answer.error.message).toMatch(/nested/);
    expect(lines.filter((line) => (line as { event?: string }).event === 'error')).toEqual([]);
    expect(storage.appended()).toBe(0);
  });
});

describe('the request log', () => {
  it('never holds an invite’s secret, cancelled or not', async () => {
    const lines: Parameters<RequestLog>[0][] = [];
    const app = createSyncApp({
      redis: false,
      storage: memoryStorage(),
      secret,
      staticDir: false,
      log: (line) => lines.push(line),
    });
    const space = 'routes-test-space-000003';
    const other = 'routes-test-space-000004';
    const headers = { Authorization: `Bearer ${app.tokens.issue(space)}` };
    const created = await app.request(`/api/spaces/${space}/invites`, { method: 'POST', headers });
    const { invite } = (await created.json()) as { invite: string };
    // Another space's invite: not cancelled here (404), and still valid there.
    const { invite: theirs } = app.tokens.invite(other, Date.now() + 60_000);
    const cancels = [
      [invite, 204],
      [theirs, 404],
    ] as const;
    for (const [target, status] of cancels) {
      const cancelled = await app.request(`/api/spaces/${space}/invites/${target}`, {
        method: 'DELETE',
        headers,
      });
      expect(cancelled.status).toBe(status);
    }
    expect(lines.slice(1).map((line) => 'path' in line && line.path)).toEqual([
      `/api/spaces/${space}/invites/p1.${space}.…`,
      `/api/spaces/${space}/invites/p1.${other}.…`,
    ]);
    const logged = JSON.stringify(lines);
    for (const [target] of cancels) expect(logged).not.toContain(target.split('.')[2]);
  });
});
