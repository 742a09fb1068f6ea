import { beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema } from '../../core/protocol.ts';
import { createSpaceTokens } from '../../server/auth.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { createSpace, events, pushBody, streamOf } from './fixtures.ts';

const sync = syncServerFixture({ server: { rateLimit: false } });

let space: string;
let token: string;
let otherToken: string;

beforeAll(async () => {
  // Counting requests is a write; these tests prove that a refused request writes nothing.
  ({ space, token } = await createSpace(sync.server.url));
  otherToken = (await createSpace(sync.server.url)).token;
});

type Endpoint = {
  name: string;
  request: (headers: Record<string, string>, query?: string) => Promise<Response>;
};

const endpoints: Endpoint[] = [
  {
    name: 'POST push',
    request: (headers) => {
      const stream = streamOf();
      return fetch(`${sync.server.url}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created']))),
      });
    },
  },
  {
    name: 'GET events',
    request: (headers, query = '') =>
      fetch(`${sync.server.url}/api/spaces/${space}/events${query}`, { headers }),
  },
  {
    name: 'GET live',
    request: (headers, query = '') =>
      fetch(`${sync.server.url}/api/spaces/${space}/live${query}`, { headers }),
  },
];

// A token signed with another secret: well-formed, for this very space, and still forged.
const forged = () => createSpaceTokens('some-other-secret-of-the-same-length-012345').issue(space);

const cases: {
  name: string;
  headers: () => Record<string, string>;
  status: number;
  code: string;
}[] = [
  { name: 'no token', headers: () => ({}), status: 401, code: 'unauthorized' },
  {
    name: 'not a bearer token',
    headers: () => ({ Authorization: `Basic ${token}` }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'malformed token',
    headers: () => ({ Authorization: 'Bearer nonsense' }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'forged token',
    headers: () => ({ Authorization: `Bearer ${forged()}` }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'tampered mac',
    headers: () => ({
      Authorization: `Bearer ${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`,
    }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'token of another space',
    headers: () => ({ Authorization: `Bearer ${otherToken}` }),
    status: 403,
    code: 'forbidden',
  },
];

describe.each(endpoints)('$name', ({ request }) => {
  it.each(cases)('answers $status to $name, stores nothing', async ({ headers, status, code }) => {
    const before = await sync.redis.snapshot();
    const response = await request(headers());
    expect(response.status).toBe(status);
    expect(errorBodySchema.parse(await response.json()).error.code).toBe(code);
    expect(await sync.redis.snapshot()).toEqual(before);
  });

  it.each(['Bearer', 'bearer', 'BEARER'])(
    'accepts the right token (%s: the scheme in any case)',
    async (scheme) => {
      const response = await request({ Authorization: `${scheme} ${token}` });
      expect(response.status).toBeLessThan(300);
      await response.body?.cancel();
    },
  );
});

describe('?token=', () => {
  it('is accepted on the live endpoint', async () => {
    const response = await fetch(`${sync.server.url}/api/spaces/${space}/live?token=${token}`);
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it.each([
    ['forged', forged, 401],
    ['of another space', () => otherToken, 403],
  ] as const)('is checked on the live endpoint: %s', async (_, make, status) => {
    const response = await fetch(`${sync.server.url}/api/spaces/${space}/live?token=${make()}`);
    expect(response.status).toBe(status);
  });

  it('is not accepted anywhere else', async () => {
    const response = await fetch(`${sync.server.url}/api/spaces/${space}/events?token=${token}`);
    expect(response.status).toBe(401);
  });
});
