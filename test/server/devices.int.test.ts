import { describe, expect, it } from 'vitest';
import {
  devicesResponseSchema,
  errorBodySchema,
  inviteResponseSchema,
} from '../../core/protocol.ts';
import { createSpaceTokens } from '../../server/auth.ts';
import { redisKeys } from '../../server/redis-store.ts';
import { freePort } from '../../server/local-redis.ts';
import { startServerProcess } from '../reliability/server-process.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import {
  auth,
  createSpace,
  events,
  openLive,
  push,
  pushBody,
  secret,
  startTestServer,
  streamOf,
  waitFor,
} from './fixtures.ts';

// Two instances: a removal on one ends the removed device's feed on the other.
const sync = syncServerFixture({ instances: 2, server: { rateLimit: false } });
const url = (path: string) => `${sync.url}${path}`;

async function newSpace(name = 'Laptop') {
  const response = await fetch(url('/api/spaces'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { space: string; token: string };
}
async function invite(space: string, token: string) {
  const response = await fetch(url(`/api/spaces/${space}/invites`), {
    method: 'POST',
    headers: auth(token),
  });
  expect(response.status).toBe(201);
  return inviteResponseSchema.parse(await response.json());
}
const join = (space: string, bearer: string, name?: string) =>
  fetch(url(`/api/spaces/${space}/devices`), {
    method: 'POST',
    headers: { ...auth(bearer), 'Content-Type': 'application/json' },
    body: name === undefined ? '' : JSON.stringify({ name }),
  });
async function joined(space: string, bearer: string, name?: string) {
  const response = await join(space, bearer, name);
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}
async function devices(space: string, token: string) {
  const response = await fetch(url(`/api/spaces/${space}/devices`), { headers: auth(token) });
  expect(response.status).toBe(200);
  return devicesResponseSchema.parse(await response.json());
}
const message = async (response: Response) =>
  ((await response.json()) as { error: { message: string } }).error.message;

describe('pairing invites', () => {
  it('are single-use: of five devices racing with one invite, exactly one joins', async () => {
    const { space, token } = await newSpace();
    const { invite: link } = await invite(space, token);
    const answers = await Promise.all(Array.from({ length: 5 }, () => join(space, link)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 401, 401, 401, 401]);
    const again = await join(space, link);
    expect(again.status).toBe(401);
    expect(await message(again)).toMatch(/already used/);
  });

  it('can be cancelled, and expire after their time (15 minutes by default)', async () => {
    const { space, token } = await newSpace();
    const { invite: link, expiresAt } = await invite(space, token);
    expect(expiresAt - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    const cancel = () =>
      fetch(url(`/api/spaces/${space}/invites/${link}`), {
        method: 'DELETE',
        headers: auth(token),
      });
    expect((await cancel()).status).toBe(204);
    expect((await cancel()).status).toBe(404);
    expect((await join(space, link)).status).toBe(401);
  });

  it('go with the device that made them: removed or gone, its pending links join no one', async () => {
    const { space, token: laptop } = await newSpace('Laptop');
    const phone = await joined(space, (await invite(space, laptop)).invite, 'Phone');
    const phoneId = (await devices(space, phone)).self;
    // The phone (stolen, say) makes links before it is removed; the laptop makes one too.
    const fromPhone = await Promise.all([invite(space, phone), invite(space, phone)]);
    const fromLaptop = await invite(space, laptop);
    const removal = await fetch(url(`/api/spaces/${space}/devices/${phoneId}`), {
      method: 'DELETE',
      headers: auth(laptop),
    });
    expect(removal.status).toBe(204);
    for (const { invite: link } of fromPhone) {
      const refused = await join(space, link, 'Thief');
      expect(refused.status).toBe(401);
      expect(await message(refused)).toMatch(/already used, cancelled or has expired/);
    }
    expect((await devices(space, laptop)).devices.map((d) => d.name)).toEqual(['Laptop']);
    // The laptop's link still works; and a device that leaves by itself takes its links too.
    const tablet = await joined(space, fromLaptop.invite, 'Tablet');
    const fromTablet = await invite(space, tablet);
    const left = await fetch(url(`/api/spaces/${space}/devices/self`), {
      method: 'DELETE',
      headers: auth(tablet),
    });
    expect(left.status).toBe(204);
    expect((await join(space, fromTablet.invite)).status).toBe(401);
    expect((await devices(space, laptop)).devices.map((d) => d.name)).toEqual(['Laptop']);
  });

  it('are at most 20 waiting in a space; a cancelled or used one makes room', async () => {
    const { space, token } = await newSpace();
    const links = [];
    for (let i = 0; i < 20; i++) links.push(await invite(space, token));
    const refused = await fetch(url(`/api/spaces/${space}/invites`), {
      method: 'POST',
      headers: auth(token),
    });
    expect(refused.status).toBe(429);
    expect(await message(refused)).toMatch(/20 pairing links waiting/);
    // Come back when the first of them expires (15 minutes from now, give or take a second).
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(14 * 60);
    expect(Number(refused.headers.get('Retry-After'))).toBeLessThanOrEqual(15 * 60);
    const cancelled = await fetch(url(`/api/spaces/${space}/invites/${links[0]!.invite}`), {
      method: 'DELETE',
      headers: auth(token),
    });
    expect(cancelled.status).toBe(204);
    await joined(space, links[1]!.invite);
    await invite(space, token);
    await invite(space, token);
    // The other links still work.
    await joined(space, links[19]!.invite);
  });

  it('a device token can no longer add devices', async () => {
    const { space, token } = await newSpace();
    const refused = await join(space, token);
    expect(refused.status).toBe(403);
    expect(await message(refused)).toMatch(/Only a pairing link adds a device/);
    expect((await devices(space, token)).devices).toHaveLength(1);
  });
});

describe('a space’s devices', () => {
  it('are listed with names, this device marked; renamed; and another one removed for good', async () => {
    const { space, token: laptop } = await newSpace('Laptop');
    const phone = await joined(space, (await invite(space, laptop)).invite, 'Chrome on Android');
    const list = await devices(space, laptop);
    expect(list.devices.map((d) => d.name)).toEqual(['Laptop', 'Chrome on Android']);
    const self = list.devices.find((d) => d.id === list.self)!;
    expect(self.name).toBe('Laptop');
    expect(self.lastSeenAt).toBeGreaterThanOrEqual(self.joinedAt);

    const rename = await fetch(url(`/api/spaces/${space}/devices/self`), {
      method: 'PATCH',
      headers: { ...auth(phone), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: '  Pixel   phone ' }),
    });
    expect(rename.status).toBe(204);
    const bad = await fetch(url(`/api/spaces/${space}/devices/self`), {
      method: 'PATCH',
      headers: { ...auth(phone), 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: '' }),
    });
    expect(bad.status).toBe(400);
    const phoneId = (await devices(space, phone)).self;
    expect((await devices(space, laptop)).devices.map((d) => d.name)).toEqual([
      'Laptop',
      'Pixel phone',
    ]);

    // The phone follows the feed on the other instance; the laptop removes it through the first:
    // the feed ends within a second.
    const live = await openLive(
      `${sync.servers[1]!.url}/api/spaces/${space}/live?after=0`,
      auth(phone),
    );
    expect(live.response.status).toBe(200);
    const removedAt = Date.now();
    const removal = await fetch(url(`/api/spaces/${space}/devices/${phoneId}`), {
      method: 'DELETE',
      headers: auth(laptop),
    });
    expect(removal.status).toBe(204);
    await live.ended();
    expect(Date.now() - removedAt).toBeLessThan(1_000);
    expect(live.messages.at(-1)?.event).toBe('error');

    // Its pushes are refused in words, it cannot rejoin with anything it kept, and it is gone
    // from the list; removing it again is a 404.
    const stream = streamOf();
    const pushed = await push(
      sync.url,
      space,
      phone,
      pushBody(stream, 0, events(stream, 0, ['Created'])),
    );
    expect(pushed.status).toBe(401);
    expect(await message(pushed)).toMatch(/removed/);
    expect((await join(space, phone)).status).toBe(401);
    expect((await devices(space, laptop)).devices.map((d) => d.name)).toEqual(['Laptop']);
    expect(
      (
        await fetch(url(`/api/spaces/${space}/devices/${phoneId}`), {
          method: 'DELETE',
          headers: auth(laptop),
        })
      ).status,
    ).toBe(404);
    // It can join again with a new invite, as a new device.
    const back = await joined(space, (await invite(space, laptop)).invite, 'Pixel phone');
    expect((await devices(space, back)).devices).toHaveLength(2);
  });
});

describe('device names', () => {
  it('are kept without what hides or reorders text, and broken or empty ones are refused', async () => {
    const { space, token } = await newSpace();
    const rename = (name: string) =>
      fetch(url(`/api/spaces/${space}/devices/self`), {
        method: 'PATCH',
        headers: { ...auth(token), 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    const named = async () => (await devices(space, token)).devices[0]!.name;
    expect((await rename('\u202eenohP\u202c   s\u200bam\u0000\u0007 ')).status).toBe(204);
    expect(await named()).toBe('enohP sam');
    // Every invisible formatting character goes (an Arabic letter mark, tag characters), but a
    // joiner that makes two emoji one stays.
    expect((await rename('\u061c👩\u200d💻 lap\u{E0041}top')).status).toBe(204);
    expect(await named()).toBe('👩\u200d💻 laptop');
    expect((await rename('enohP sam')).status).toBe(204);
    for (const [name, problem] of [
      ['Phone \ud800', /broken characters/],
      ['\u200b\u202e\u0000', /needs a name/],
      ['\u0301\u0301', /visible character/],
      // Hangul fillers are letters that show as nothing.
      ['\u3164\u3164', /needs a name/],
      ['x'.repeat(61), /at most 60/],
    ] as const) {
      const refused = await rename(name);
      expect(refused.status).toBe(400);
      expect(await message(refused)).toMatch(problem);
    }
    expect(await named()).toBe('enohP sam');
    // Joining and creating a space hold names to the same rule.
    const bad = await join(space, (await invite(space, token)).invite, '\ud800');
    expect(bad.status).toBe(400);
    const created = await newSpace('Tab\u2067let\u2069');
    expect((await devices(created.space, created.token)).devices[0]!.name).toBe('Tablet');
  });

  it('a rename racing the device’s removal never lists it again', async () => {
    const { space, token: laptop } = await newSpace('Laptop');
    for (let round = 0; round < 10; round++) {
      const phone = await joined(space, (await invite(space, laptop)).invite, 'Phone');
      const phoneId = (await devices(space, phone)).self;
      const [renamed, removed] = await Promise.all([
        fetch(url(`/api/spaces/${space}/devices/self`), {
          method: 'PATCH',
          headers: { ...auth(phone), 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: 'Renamed' }),
        }),
        fetch(url(`/api/spaces/${space}/devices/${phoneId}`), {
          method: 'DELETE',
          headers: auth(laptop),
        }),
      ]);
      expect(removed.status).toBe(204);
      expect([204, 401]).toContain(renamed.status);
      expect((await devices(space, laptop)).devices.map((d) => d.name)).toEqual(['Laptop']);
    }
  });
});

describe('a live feed opened as its device is removed', () => {
  it('ends at once, whichever comes first', async () => {
    const { space, token: laptop } = await newSpace('Laptop');
    for (let round = 0; round < 15; round++) {
      const phone = await joined(space, (await invite(space, laptop)).invite, 'Phone');
      const phoneId = (await devices(space, phone)).self;
      const [live, removal] = await Promise.all([
        openLive(`${sync.servers[round % 2]!.url}/api/spaces/${space}/live?after=0`, auth(phone)),
        fetch(url(`/api/spaces/${space}/devices/${phoneId}`), {
          method: 'DELETE',
          headers: auth(laptop),
        }),
      ]);
      expect(removal.status).toBe(204);
      const removedAt = Date.now();
      // Refused at once, or let in just before the removal: then it ends within a moment, not
      // at its lease's next renewal (seconds later), getting nothing more meanwhile.
      await live.ended();
      expect(Date.now() - removedAt).toBeLessThan(2_000);
      expect([200, 401]).toContain(live.response.status);
    }
  });
});

describe('every credential on every device endpoint', () => {
  type Refusal = readonly [headers: Record<string, string>, status: 401 | 403, message: RegExp];
  const code = { 401: 'unauthorized', 403: 'forbidden' } as const;

  /**
   * Sends each request with each credential: each is refused with its status, its error code and
   * a sentence that says why, and Redis is as it was before that request (its snapshot).
   */
  async function refusesAll(
    endpoints: readonly (readonly [method: string, path: string, body?: string])[],
    credentials: Record<string, Refusal>,
  ) {
    for (const [method, path, body] of endpoints)
      for (const [who, [headers, status, why]] of Object.entries(credentials)) {
        const before = await sync.redis.snapshot();
        const response = await fetch(url(path), {
          method,
          headers: { ...headers, 'Content-Type': 'application/json' },
          ...(body ? { body } : {}),
        });
        const text = await response.text();
        expect({ method, path, who, status: response.status }).toEqual({
          method,
          path,
          who,
          status,
        });
        const { error } = errorBodySchema.parse(JSON.parse(text));
        expect(error.code, `${method} ${path} as ${who}`).toBe(code[status]);
        expect(error.message, `${method} ${path} as ${who}`).toMatch(why);
        expect(await sync.redis.snapshot(), `${method} ${path} as ${who}`).toEqual(before);
      }
  }

  async function given() {
    const { space, token } = await newSpace();
    const other = await newSpace();
    const used = (await invite(space, token)).invite;
    const gone = await joined(space, used);
    const goneId = (await devices(space, gone)).self;
    const removal = await fetch(url(`/api/spaces/${space}/devices/${goneId}`), {
      method: 'DELETE',
      headers: auth(token),
    });
    expect(removal.status).toBe(204);
    const live = (await invite(space, token)).invite;
    const otherInvite = (await invite(other.space, other.token)).invite;
    const names = async () =>
      JSON.stringify((await devices(space, token)).devices.map(({ id, name }) => [id, name]));
    return { space, token, other, gone, goneId, live, used, otherInvite, names };
  }

  it('answers exactly 401 or 403 in words, and changes nothing', async () => {
    const { space, other, gone, goneId, live, used, names } = await given();
    const tokens = createSpaceTokens(secret);
    // Genuine, signed by this server, and past its time.
    const expired = tokens.invite(space, Date.now() - 60_000).invite;
    const credentials: Record<string, Refusal> = {
      none: [{}, 401, /needs a bearer token/],
      'not a bearer': [{ Authorization: 'Basic dGFsbHk6dGFsbHk=' }, 401, /needs a bearer token/],
      malformed: [{ Authorization: 'Bearer nope' }, 401, /not valid on this server/],
      forged: [auth(`t1.${space}.${'A'.repeat(43)}`), 401, /not valid on this server/],
      "another space's": [auth(other.token), 403, /belongs to another space/],
      removed: [auth(gone), 401, /left the space or was removed/],
      'invite as token': [auth(live), 401, /pairing link only joins a space/],
      'an expired invite as token': [auth(expired), 401, /pairing link only joins a space/],
      'a used invite as token': [auth(used), 401, /pairing link only joins a space/],
    };
    const before = await names();
    await refusesAll(
      [
        ['GET', `/api/spaces/${space}/devices`],
        ['PATCH', `/api/spaces/${space}/devices/self`, JSON.stringify({ name: 'x' })],
        ['DELETE', `/api/spaces/${space}/devices/self`],
        ['DELETE', `/api/spaces/${space}/devices/${goneId}`],
        ['POST', `/api/spaces/${space}/invites`],
        ['DELETE', `/api/spaces/${space}/invites/${live}`],
      ],
      credentials,
    );
    // A genuine invite the space never made pending (signed, not issued) is 401, and so is one
    // signed with another secret. (Every other credential on joining: the next test.)
    expect((await join(space, tokens.invite(space, Date.now() + 60_000).invite)).status).toBe(401);
    const foreign = createSpaceTokens('another-secret-that-is-long-enough-987654');
    expect((await join(space, foreign.invite(space, Date.now() + 60_000).invite)).status).toBe(401);
    expect(await names()).toBe(before);
    // The pending invite was neither used nor cancelled by any of it.
    expect((await join(space, live)).status).toBe(201);
  });

  it('a removed device’s push is refused 401 whatever its body (its admission runs beside the read), and stores nothing', async () => {
    const { space, gone } = await given();
    const stream = streamOf();
    const valid = JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created'])));
    const feedBefore = await sync.redis.client.xlen(redisKeys.feed(space));
    for (const [contentType, body] of [
      ['application/json', valid],
      ['application/json', '{"streams": ['],
      ['application/json', JSON.stringify({ streams: [] })],
      ['text/plain', valid],
    ] as const) {
      const response = await fetch(`${sync.url}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: { ...auth(gone), 'Content-Type': contentType },
        body,
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
        /left the space or was removed/,
      );
    }
    expect(await sync.redis.client.xlen(redisKeys.feed(space))).toBe(feedBefore);
  });

  it('joining takes only a pending invite of the space: anything else is refused in words, and changes nothing', async () => {
    const { space, token, other, gone, live, otherInvite, names } = await given();
    const before = await names();
    await refusesAll(
      [['POST', `/api/spaces/${space}/devices`, JSON.stringify({ name: 'Intruder' })]],
      {
        none: [{}, 401, /needs a bearer token/],
        'not a bearer': [{ Authorization: `Basic ${live}` }, 401, /needs a bearer token/],
        malformed: [{ Authorization: 'Bearer nope' }, 401, /not valid on this server/],
        'a forged device token': [
          auth(`t1.${space}.${'A'.repeat(43)}`),
          401,
          /not valid on this server/,
        ],
        'a malformed invite': [auth(`p1.${space}.${'A'.repeat(12)}`), 401, /not valid here/],
        'a tampered invite': [
          auth(`${live.slice(0, -2)}${live.endsWith('AA') ? 'BB' : 'AA'}`),
          401,
          /not valid here/,
        ],
        "another space's token": [auth(other.token), 403, /belongs to another space/],
        "another space's invite": [auth(otherInvite), 403, /pairing link is for another space/],
        "a removed device's token": [auth(gone), 401, /left the space or was removed/],
        "this space's device token": [auth(token), 403, /Only a pairing link adds a device/],
      },
    );
    expect(await names()).toBe(before);
    // Neither invite was used up by any of it.
    expect((await join(space, live)).status).toBe(201);
    expect((await join(other.space, otherInvite)).status).toBe(201);
  });

  it('cancelling takes only a pending invite of the space in its path: anything else is 404, and changes nothing', async () => {
    const { space, token, live, otherInvite } = await given();
    const tampered = `${live.slice(0, -2)}${live.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const [what, path] of [
      ['a device token', token],
      ["another space's invite", otherInvite],
      ['a tampered invite', tampered],
    ] as const) {
      const before = await sync.redis.snapshot();
      const response = await fetch(
        url(`/api/spaces/${space}/invites/${encodeURIComponent(path)}`),
        { method: 'DELETE', headers: auth(token) },
      );
      expect({ what, status: response.status }).toEqual({ what, status: 404 });
      expect(errorBodySchema.parse(await response.json()).error.code, what).toBe('not-found');
      expect(await sync.redis.snapshot(), what).toEqual(before);
    }
    // Neither invite was cancelled by any of it.
    expect((await join(space, live)).status).toBe(201);
  });
});

describe('the lifetime of an invite', () => {
  it('is the server’s inviteTtlMs: an invite works within it and is refused once it expired, changing nothing', async () => {
    // 10 s is the shortest the options allow (options.ts).
    const short = await startTestServer(sync.redis.url, { rateLimit: false, inviteTtlMs: 10_000 });
    try {
      const on = (path: string) => `${short.url}${path}`;
      const { space, token } = await createSpace(short.url);
      const make = async () => {
        const response = await fetch(on(`/api/spaces/${space}/invites`), {
          method: 'POST',
          headers: auth(token),
        });
        expect(response.status).toBe(201);
        return inviteResponseSchema.parse(await response.json());
      };
      const used = await make();
      const unused = await make();
      expect(unused.expiresAt - Date.now()).toBeGreaterThan(5_000);
      expect(unused.expiresAt - Date.now()).toBeLessThanOrEqual(10_000);
      const joinShort = (link: string) =>
        fetch(on(`/api/spaces/${space}/devices`), { method: 'POST', headers: auth(link) });
      expect((await joinShort(used.invite)).status).toBe(201);

      // Until Redis itself has dropped the pending invites (their key expires with the last).
      const pending = `tally:{${space}}:invites`;
      await waitFor(
        async () =>
          Date.now() > unused.expiresAt && (await sync.redis.client.exists(pending)) === 0,
        'the invite to expire',
      );
      const before = await sync.redis.snapshot();
      const refused = await joinShort(unused.invite);
      expect(refused.status).toBe(401);
      expect(errorBodySchema.parse(await refused.json()).error.message).toMatch(/has expired/);
      expect(await sync.redis.snapshot()).toEqual(before);
      const list = await fetch(on(`/api/spaces/${space}/devices`), { headers: auth(token) });
      expect(devicesResponseSchema.parse(await list.json()).devices).toHaveLength(2);
    } finally {
      await short.close();
    }
  });

  it('is set by TALLY_INVITE_TTL_MINUTES for npm start', async () => {
    const server = await startServerProcess({
      port: await freePort(),
      redisUrl: sync.redis.url,
      secret,
      env: { TALLY_INVITE_TTL_MINUTES: '2', TALLY_RATE_LIMIT: 'false' },
    });
    try {
      const { space, token } = await createSpace(server.url);
      const asked = Date.now();
      const response = await fetch(`${server.url}/api/spaces/${space}/invites`, {
        method: 'POST',
        headers: auth(token),
      });
      expect(response.status).toBe(201);
      const { expiresAt } = inviteResponseSchema.parse(await response.json());
      expect(expiresAt - asked).toBeGreaterThan(2 * 60_000 - 10_000);
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(2 * 60_000);
    } finally {
      await server.stop();
    }
  });
});
