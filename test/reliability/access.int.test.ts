import { beforeAll, describe, expect, it } from 'vitest';
import {
  deviceTokenResponseSchema,
  errorBodySchema,
  pullResponseSchema,
  pushResponseSchema,
} from '../../core/protocol.ts';
import { accessKeys } from '../../server/access-store.ts';
import { createSpaceTokens } from '../../server/auth.ts';
import type { RunningServer } from '../../server/server.ts';
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
} from '../server/fixtures.ts';

/**
 * Who may reach a space: every kind of wrong token on every endpoint, the live feed included, and
 * a space's data never readable or writable from another. Issue 8, "Access".
 */

// Counting requests is a write; this file proves that a refused request writes nothing.
// A short lease, so a device that left loses its open live feed quickly. The second instance on
// the same Redis: a device that left is refused there too, at once.
const sync = syncServerFixture({ instances: 2, server: { rateLimit: false, liveLeaseMs: 600 } });
let server: RunningServer;
let other: RunningServer;
let a: { space: string; token: string };
let b: { space: string; token: string };
/** A device of space A that left it. */
let left: string;
/** A pending pairing invite of space A. */
let pending: string;

/** A device joins the way a person pairs one: a single-use invite from a device of the space. */
const newDevice = async (url: string, space: string, token: string): Promise<string> => {
  const made = await fetch(`${url}/api/spaces/${space}/invites`, {
    method: 'POST',
    headers: auth(token),
  });
  expect(made.status).toBe(201);
  const { invite } = (await made.json()) as { invite: string };
  const response = await fetch(`${url}/api/spaces/${space}/devices`, {
    method: 'POST',
    headers: auth(invite),
  });
  expect(response.status).toBe(201);
  return deviceTokenResponseSchema.parse(await response.json()).token;
};

const leave = (url: string, space: string, token: string) =>
  fetch(`${url}/api/spaces/${space}/devices/self`, { method: 'DELETE', headers: auth(token) });

beforeAll(async () => {
  [server, other] = sync.servers as [RunningServer, RunningServer];
  a = await createSpace(server.url);
  b = await createSpace(server.url);
  left = await newDevice(server.url, a.space, a.token);
  expect((await leave(server.url, a.space, left)).status).toBe(204);
  const made = await fetch(`${server.url}/api/spaces/${a.space}/invites`, {
    method: 'POST',
    headers: auth(a.token),
  });
  expect(made.status).toBe(201);
  ({ invite: pending } = (await made.json()) as { invite: string });
});

type Endpoint = {
  readonly name: string;
  /** `token` goes where this endpoint variant puts it: a bearer header, or `?token=`. */
  readonly request: (token: string | undefined) => Promise<Response>;
  /** What the right token gets. */
  readonly ok: number;
};

const bearer = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : auth(token);

const endpoints = (space: () => string): Endpoint[] => [
  {
    name: 'POST push',
    ok: 200,
    request: (token) => {
      const stream = streamOf();
      return fetch(`${server.url}/api/spaces/${space()}/push`, {
        method: 'POST',
        headers: { ...bearer(token), 'Content-Type': 'application/json' },
        body: JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created']))),
      });
    },
  },
  {
    name: 'GET events',
    ok: 200,
    request: (token) =>
      fetch(`${server.url}/api/spaces/${space()}/events`, { headers: bearer(token) }),
  },
  {
    name: 'GET live (header)',
    ok: 200,
    request: (token) =>
      fetch(`${server.url}/api/spaces/${space()}/live`, { headers: bearer(token) }),
  },
  {
    name: 'GET live (?token=)',
    ok: 200,
    request: (token) =>
      fetch(
        `${server.url}/api/spaces/${space()}/live${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`,
      ),
  },
  {
    // A device token of the space is refused here: only a pairing invite adds a device.
    name: 'POST devices',
    ok: 403,
    request: (token) =>
      fetch(`${server.url}/api/spaces/${space()}/devices`, {
        method: 'POST',
        headers: bearer(token),
      }),
  },
  {
    name: 'DELETE devices/self',
    ok: 204,
    request: (token) =>
      fetch(`${server.url}/api/spaces/${space()}/devices/self`, {
        method: 'DELETE',
        headers: bearer(token),
      }),
  },
];

// Signed with another secret: well-formed, for this very space, and still forged.
const forger = createSpaceTokens('some-other-secret-of-the-same-length-012345');

const wrongTokens: {
  readonly name: string;
  readonly token: () => string | undefined;
  readonly status: number;
  readonly code: string;
  readonly message?: RegExp;
  /** Endpoints where this is no wrong credential (tested in devices.int.test.ts). */
  readonly except?: readonly string[];
}[] = [
  { name: 'no token', token: () => undefined, status: 401, code: 'unauthorized' },
  { name: 'a malformed token', token: () => 'nonsense', status: 401, code: 'unauthorized' },
  {
    name: 'a token of the old, per-space shape',
    token: () => `t1.${a.space}.${'A'.repeat(43)}`,
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'a forged token',
    token: () => forger.issue(a.space),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: "another space's token",
    token: () => b.token,
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'the token of a device that left',
    token: () => left,
    status: 401,
    code: 'unauthorized',
    message: /left the space/,
  },
  {
    // Pending, of this very space: it joins the space (POST devices) and does nothing else.
    name: 'an invite as token',
    token: () => pending,
    status: 401,
    code: 'unauthorized',
    message: /pairing link only joins a space/,
    except: ['POST devices'],
  },
];

describe.each(endpoints(() => a.space))('$name', (endpoint) => {
  it.each(wrongTokens.filter(({ except }) => !except?.includes(endpoint.name)))(
    'answers $status to $name and stores nothing',
    async ({ token, status, code, message }) => {
      const before = await sync.redis.snapshot();
      const response = await endpoint.request(token());
      expect(response.status).toBe(status);
      const body = errorBodySchema.parse(await response.json());
      expect(body.error.code).toBe(code);
      if (message) expect(body.error.message).toMatch(message);
      expect(await sync.redis.snapshot()).toEqual(before);
    },
  );

  it(`answers ${endpoint.ok} to a device token of the space`, async () => {
    // A token of its own: DELETE devices/self would otherwise end the space's main token.
    const token = await newDevice(server.url, a.space, a.token);
    const response = await endpoint.request(token);
    expect(response.status).toBe(endpoint.ok);
    await response.body?.cancel();
    // A live feed's lease is given back once its stream ended; the next test snapshots Redis.
    await waitFor(
      async () => (await sync.redis.client.exists(accessKeys.live(a.space))) === 0,
      'the live lease to be released',
    );
  });
});

describe('a token only in ?token=', () => {
  it.each([
    ['GET events', 'events', 'GET'],
    ['POST devices', 'devices', 'POST'],
    ['DELETE devices/self', 'devices/self', 'DELETE'],
  ])('is not accepted by %s', async (_, path, method) => {
    const response = await fetch(
      `${server.url}/api/spaces/${a.space}/${path}?token=${encodeURIComponent(a.token)}`,
      { method },
    );
    expect(response.status).toBe(401);
  });
});

describe('devices', () => {
  it('gives a joining device a token of its own, for the same space', async () => {
    const token = await newDevice(server.url, a.space, a.token);
    expect(token).not.toBe(a.token);
    expect(token).toMatch(/^t1\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43}$/);
    const mine = server.app.tokens.verify(token);
    const inviter = server.app.tokens.verify(a.token);
    expect(mine?.space).toBe(a.space);
    expect(mine?.device).not.toBe(inviter?.device);
  });

  it('lets one device leave without locking out the others, on every instance', async () => {
    const { space, token: first } = await createSpace(server.url);
    const second = await newDevice(server.url, space, first);
    const third = await newDevice(other.url, space, second);
    const pull = (url: string, token: string) =>
      fetch(`${url}/api/spaces/${space}/events`, { headers: auth(token) });

    expect((await leave(server.url, space, second)).status).toBe(204);
    // Refused at once on both instances: the revoked set is in Redis, nothing is cached.
    for (const url of [server.url, other.url]) {
      const refused = await pull(url, second);
      expect(refused.status).toBe(401);
      expect(errorBodySchema.parse(await refused.json()).error.message).toMatch(/left the space/);
      expect((await pull(url, first)).status).toBe(200);
      expect((await pull(url, third)).status).toBe(200);
    }
    // Leaving twice: the token is already refused.
    expect((await leave(other.url, space, second)).status).toBe(401);
  });

  it('ends the open live feed of a device that leaves', async () => {
    const { space, token: first } = await createSpace(server.url);
    const leaving = await newDevice(server.url, space, first);
    const staying = await openLive(`${server.url}/api/spaces/${space}/live`, auth(first));
    const going = await openLive(`${other.url}/api/spaces/${space}/live`, auth(leaving));
    expect(going.response.status).toBe(200);

    expect((await leave(server.url, space, leaving)).status).toBe(204);
    await going.ended();
    expect(going.messages.at(-1)).toMatchObject({ event: 'error' });

    // The staying device's feed goes on.
    const stream = streamOf();
    expect(
      (await push(server.url, space, first, pushBody(stream, 0, events(stream, 0, ['Created']))))
        .status,
    ).toBe(200);
    await staying.waitForEntries(1);
    staying.close();
  });
});

describe('spaces are apart', () => {
  it("never lets one space read or write another's data", async () => {
    const x = await createSpace(server.url);
    const y = await createSpace(server.url);
    // The same stream id in both spaces: two streams, not one.
    const stream = streamOf();
    const mine = events(stream, 0, ['Created', 'Incremented']);
    const theirs = events(stream, 0, ['Created']);
    const liveY = await openLive(`${server.url}/api/spaces/${y.space}/live`, auth(y.token));

    const pushed = await push(server.url, x.space, x.token, pushBody(stream, 0, mine));
    expect(pushResponseSchema.parse(await pushed.json()).results[0]).toMatchObject({
      status: 'accepted',
      version: 2,
    });
    // Y's token on X's space: refused, on every endpoint.
    for (const { request } of endpoints(() => x.space)) {
      const response = await request(y.token);
      expect(response.status).toBe(403);
    }
    // Y's own stream of that id starts empty: no conflict with X's events, none of them shown.
    const answer = await push(server.url, y.space, y.token, pushBody(stream, 0, theirs));
    expect(pushResponseSchema.parse(await answer.json()).results[0]).toMatchObject({
      status: 'accepted',
      version: 1,
    });
    const pullY = pullResponseSchema.parse(
      await (
        await fetch(`${server.url}/api/spaces/${y.space}/events`, { headers: auth(y.token) })
      ).json(),
    );
    expect(pullY.entries.map((entry) => entry.event)).toEqual(theirs);
    const pullX = pullResponseSchema.parse(
      await (
        await fetch(`${server.url}/api/spaces/${x.space}/events`, { headers: auth(x.token) })
      ).json(),
    );
    expect(pullX.entries.map((entry) => entry.event)).toEqual(mine);

    // Y's live feed saw Y's event and nothing of X's.
    await liveY.waitForEntries(1);
    const next = pushBody(stream, 1, events(stream, 1, ['Incremented']));
    expect((await push(server.url, y.space, y.token, next)).status).toBe(200);
    const seen = await liveY.waitForEntries(2);
    expect(
      seen.every((entry) => entry.event.id !== mine[0]?.id && entry.event.id !== mine[1]?.id),
    ).toBe(true);
    liveY.close();
  });
});
