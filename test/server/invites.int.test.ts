import { describe, expect, it } from 'vitest';
import { deviceTokenResponseSchema, inviteResponseSchema } from '../../core/protocol.ts';
import { createSpaceTokens } from '../../server/auth.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, createSpace, events, push, pushBody, secret, streamOf } from './fixtures.ts';

const sync = syncServerFixture();

const invite = async (space: string, token: string) => {
  const response = await fetch(`${sync.server.url}/api/spaces/${space}/invites`, {
    method: 'POST',
    headers: auth(token),
  });
  expect(response.status).toBe(201);
  return inviteResponseSchema.parse(await response.json());
};

const join = (space: string, bearer: string) =>
  fetch(`${sync.server.url}/api/spaces/${space}/devices`, {
    method: 'POST',
    headers: auth(bearer),
  });

describe('pairing invites', () => {
  it('a device of the space makes an invite that has a device token made, and nothing else', async () => {
    const { space, token } = await createSpace(sync.server.url);
    const { invite: link, expiresAt } = await invite(space, token);
    expect(link).toMatch(new RegExp(`^p1\\.${space}\\.`));
    expect(expiresAt).toBeGreaterThan(Date.now());
    const joined = await join(space, link);
    expect(joined.status).toBe(201);
    const own = deviceTokenResponseSchema.parse(await joined.json()).token;
    expect(own).toMatch(/^t1\./);
    // The new token works; the invite itself reads and writes nothing.
    const stream = streamOf();
    expect(
      (await push(sync.server.url, space, own, pushBody(stream, 0, events(stream, 0, ['Created']))))
        .status,
    ).toBe(200);
    expect(
      (
        await push(
          sync.server.url,
          space,
          link,
          pushBody(stream, 1, events(stream, 1, ['Incremented'])),
        )
      ).status,
    ).toBe(401);
    const read = await fetch(`${sync.server.url}/api/spaces/${space}/events`, {
      headers: auth(link),
    });
    expect(read.status).toBe(401);
    // An invite cannot make invites.
    const again = await fetch(`${sync.server.url}/api/spaces/${space}/invites`, {
      method: 'POST',
      headers: auth(link),
    });
    expect(again.status).toBe(401);
  });

  it('refuses forged, expired and other spaces’ invites', async () => {
    const a = await createSpace(sync.server.url);
    const b = await createSpace(sync.server.url);
    const { invite: forB } = await invite(b.space, b.token);
    expect((await join(a.space, forB)).status).toBe(403);
    const forged = forB.slice(0, -2) + (forB.endsWith('AA') ? 'BB' : 'AA');
    expect((await join(b.space, forged)).status).toBe(401);
    const expired = createSpaceTokens(secret).invite(a.space, Date.now() - 1_000).invite;
    const refused = await join(a.space, expired);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /expired/,
    );
    const otherSecret = createSpaceTokens('another-secret-that-is-long-enough-987654').invite(
      a.space,
      Date.now() + 60_000,
    ).invite;
    expect((await join(a.space, otherSecret)).status).toBe(401);
  });
});
