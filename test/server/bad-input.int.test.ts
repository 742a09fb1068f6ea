import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, limits } from '../../core/protocol.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, createSpace, events, push, pushBody, streamOf } from './fixtures.ts';

const sync = syncServerFixture({ server: { rateLimit: false } });

let space: string;
let token: string;
let stream: string;

beforeAll(async () => {
  // Counting requests is a write; these tests prove that a refused request writes nothing.
  ({ space, token } = await createSpace(sync.server.url));
  stream = streamOf();
  // Some data already there, so "unchanged" means something.
  const response = await push(
    sync.server.url,
    space,
    token,
    pushBody(stream, 0, events(stream, 0, ['Created'])),
  );
  expect(response.status).toBe(200);
});

const rawPush = (
  body: BodyInit,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
) =>
  fetch(`${sync.server.url}/api/spaces/${space}/push`, {
    method: 'POST',
    headers: { ...auth(token), ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);

/**
 * A body sent in chunks without Content-Length, over node:http rather than fetch: fetch gives up
 * when the server answers (413) before the upload is done, which is exactly what should happen.
 */
function chunkedPush(bytes: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${sync.server.url}/api/spaces/${space}/push`, {
      method: 'POST',
      headers: {
        ...auth(token),
        'Content-Type': 'application/json',
        'Transfer-Encoding': 'chunked',
      },
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve(
          new Response(Buffer.concat(chunks), {
            status: response.statusCode,
            headers: { 'Content-Type': response.headers['content-type'] ?? '' },
          }),
        ),
      );
    });
    // The server may cut the upload short once it has answered.
    request.on('error', (error) => (request.writableEnded ? undefined : reject(error)));
    const chunk = Buffer.alloc(65_536, 'x');
    let sent = 0;
    const write = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!request.write(chunk)) return void request.once('drain', write);
      }
      request.end();
    };
    write();
  });
}

const jsonPush = (body: unknown) => rawPush(JSON.stringify(body));

const json = { 'Content-Type': 'application/json' };
const gzip = { 'Content-Encoding': 'gzip' };
/** A push the server would store, of a new stream: refused only for how it is sent. */
const goodPush = () => {
  const name = streamOf();
  return JSON.stringify(pushBody(name, 0, events(name, 0, ['Created'])));
};

/** A push of one event for a fresh stream, edited by `change`. */
const pushWith = (change: (event: Record<string, unknown>) => void, name = streamOf()) => {
  const [event] = events(name, 0, ['Created']) as unknown as Record<string, unknown>[];
  change(event ?? {});
  return jsonPush({ streams: [{ stream: name, expectedVersion: 0, events: [event] }] });
};

const manyEvents = (count: number) => {
  const streams = [];
  for (let left = count; left > 0; left -= 100) {
    const name = streamOf();
    const kinds = Array.from(
      { length: Math.min(100, left) },
      (_, i) => (i === 0 ? 'Created' : 'Incremented') as 'Created',
    );
    streams.push({ stream: name, expectedVersion: 0, events: events(name, 0, kinds) });
  }
  return { streams };
};

const cases: [string, () => Promise<Response>, number][] = [
  ['malformed JSON', () => rawPush('{"streams": ['), 400],
  ['an empty body', () => rawPush(''), 400],
  ['JSON that is not an object', () => rawPush('[]'), 400],
  ['null', () => rawPush('null'), 400],
  [
    'a text/plain body',
    () => rawPush(JSON.stringify(pushBody(streamOf(), 0, [])), { 'Content-Type': 'text/plain' }),
    415,
  ],
  [
    'a form body',
    () => rawPush('streams=1', { 'Content-Type': 'application/x-www-form-urlencoded' }),
    415,
  ],
  [
    'a gzip body (Content-Encoding: gzip)',
    () => rawPush(gzipSync(goodPush()), { 'Content-Type': 'application/json', ...gzip }),
    415,
  ],
  // Read as if plain, it used to be stored: a header the server ignores is a lie it believes.
  ['a plain body that says it is gzip', () => rawPush(goodPush(), { ...json, ...gzip }), 415],
  [
    'a body in a coding no client sends (br)',
    () => rawPush(goodPush(), { ...json, 'Content-Encoding': 'br' }),
    415,
  ],
  [
    'a body coded twice, identity first (identity, deflate)',
    () => rawPush(goodPush(), { ...json, 'Content-Encoding': 'identity, deflate' }),
    415,
  ],
  [
    'a UTF-16 body (charset=utf-16)',
    () =>
      rawPush(new Uint8Array(Buffer.from(goodPush(), 'utf16le')), {
        'Content-Type': 'application/json; charset=utf-16',
      }),
    415,
  ],
  [
    'a UTF-8 body that says it is Latin-1',
    () => rawPush(goodPush(), { 'Content-Type': 'application/json; charset="ISO-8859-1"' }),
    415,
  ],
  [
    'a gzip body creating a space',
    () =>
      fetch(`${sync.server.url}/api/spaces`, {
        method: 'POST',
        headers: { ...json, ...gzip },
        body: gzipSync(JSON.stringify({ name: 'Phone' })),
      }),
    415,
  ],
  [
    'a UTF-16 name for a device',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/devices/self`, {
        method: 'PATCH',
        headers: { ...auth(token), 'Content-Type': 'application/json; charset=utf-16' },
        body: JSON.stringify({ name: 'Phone' }),
      }),
    415,
  ],
  ['a body over the limit', () => rawPush(`{"pad":"${'x'.repeat(limits.maxBodyBytes)}"}`), 413],
  [
    'a chunked body over the limit (no Content-Length)',
    () => chunkedPush(limits.maxBodyBytes + 65_536),
    413,
  ],
  ['too many events', () => jsonPush(manyEvents(limits.maxEventsPerPush + 1)), 400],
  [
    'too many streams',
    () =>
      jsonPush({
        streams: Array.from({ length: limits.maxStreamsPerPush + 1 }, () => {
          const name = streamOf();
          return { stream: name, expectedVersion: 0, events: events(name, 0, ['Created']) };
        }),
      }),
    400,
  ],
  ['no streams', () => jsonPush({ streams: [] }), 400],
  ['a stream without events', () => jsonPush(pushBody(streamOf(), 0, [])), 400],
  [
    'an oversized event',
    () =>
      pushWith((event) => (event['data'] = { name: 'x', pad: 'x'.repeat(limits.maxEventBytes) })),
    400,
  ],
  [
    'an upper-case stream id',
    () => pushWith((event) => (event['stream'] = 'Counter-abc'), 'Counter-abc'),
    400,
  ],
  [
    'a stream id without an id part',
    () => pushWith((event) => (event['stream'] = 'counter-'), 'counter-'),
    400,
  ],
  [
    'a stream id with a path',
    () => pushWith((event) => (event['stream'] = 'counter-../x'), 'counter-../x'),
    400,
  ],
  [
    'a stream id with a space',
    () => pushWith((event) => (event['stream'] = 'counter-a b'), 'counter-a b'),
    400,
  ],
  [
    'a stream of an unknown model',
    () => pushWith((event) => (event['stream'] = 'widget-abc'), 'widget-abc'),
    400,
  ],
  ['an event of another stream', () => pushWith((event) => (event['stream'] = streamOf())), 400],
  [
    'a gap in versions',
    () => {
      const name = streamOf();
      const batch = events(name, 0, ['Created', 'Incremented']);
      return jsonPush(pushBody(name, 0, [batch[0], { ...batch[1], version: 3 }]));
    },
    400,
  ],
  ['versions not after expectedVersion', () => pushWith((event) => (event['version'] = 2)), 400],
  ['a version of 0', () => pushWith((event) => (event['version'] = 0)), 400],
  [
    'a negative expectedVersion',
    () =>
      jsonPush({
        streams: [{ ...pushBody(streamOf(), 0, [])['streams'][0], expectedVersion: -1 }],
      }),
    400,
  ],
  [
    'a fractional expectedVersion',
    () => {
      const name = streamOf();
      return jsonPush(pushBody(name, 0.5, events(name, 0, ['Created'])));
    },
    400,
  ],
  [
    'a string expectedVersion',
    () => {
      const name = streamOf();
      return jsonPush({
        streams: [{ stream: name, expectedVersion: '0', events: events(name, 0, ['Created']) }],
      });
    },
    400,
  ],
  ['an unknown event type', () => pushWith((event) => (event['type'] = 'Exploded')), 400],
  ['a lower-case event type', () => pushWith((event) => (event['type'] = 'created')), 400],
  ['bad data for its type', () => pushWith((event) => (event['data'] = { name: '' })), 400],
  [
    'extra data for its type',
    () => pushWith((event) => (event['data'] = { name: 'x', extra: 1 })),
    400,
  ],
  [
    'data from a newer schema',
    () => pushWith((event) => (event['meta'] = { ...(event['meta'] as object), schema: 2 })),
    400,
  ],
  ['an unknown envelope field', () => pushWith((event) => (event['extra'] = true)), 400],
  ['a bad event id', () => pushWith((event) => (event['id'] = 'short')), 400],
  ['an unknown top-level field', () => jsonPush({ ...pushBody(streamOf(), 0, []), extra: 1 }), 400],
  [
    'one stream twice',
    () => {
      const name = streamOf();
      const body = pushBody(name, 0, events(name, 0, ['Created']));
      return jsonPush({ streams: [...body.streams, ...body.streams] });
    },
    400,
  ],
  [
    'one event id twice',
    () => {
      const name = streamOf();
      const [a, b] = events(name, 0, ['Created', 'Incremented']);
      return jsonPush(pushBody(name, 0, [a, { ...b, id: a?.id }]));
    },
    400,
  ],
  ['__proto__ at the top', () => rawPush(`{"streams":[],"__proto__":{"polluted":true}}`), 400],
  [
    '__proto__ in event data',
    () => {
      const name = streamOf();
      const json = JSON.stringify(pushBody(name, 0, events(name, 0, ['Incremented'])));
      return rawPush(json.replace('"data":{}', '"data":{"__proto__":{"polluted":true}}'));
    },
    400,
  ],
  [
    'constructor.prototype in event data',
    () => {
      const name = streamOf();
      const json = JSON.stringify(pushBody(name, 0, events(name, 0, ['Incremented'])));
      return rawPush(
        json.replace('"data":{}', '"data":{"constructor":{"prototype":{"polluted":true}}}'),
      );
    },
    400,
  ],
  [
    'a malformed space id',
    () =>
      fetch(`${sync.server.url}/api/spaces/short/push`, { method: 'POST', headers: auth(token) }),
    400,
  ],
  [
    'a bad cursor',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/events?after=abc`, { headers: auth(token) }),
    400,
  ],
  [
    'a cursor with three parts',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/events?after=1-2-3`, { headers: auth(token) }),
    400,
  ],
  [
    'a cursor beyond 64 bits',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/events?after=99999999999999999999-0`, {
        headers: auth(token),
      }),
    400,
  ],
  [
    'a limit of 0',
    () => fetch(`${sync.server.url}/api/spaces/${space}/events?limit=0`, { headers: auth(token) }),
    400,
  ],
  [
    'a limit over the maximum',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/events?limit=${limits.maxPullLimit + 1}`, {
        headers: auth(token),
      }),
    400,
  ],
  [
    'a limit that is no number',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/events?limit=ten`, { headers: auth(token) }),
    400,
  ],
  [
    'a bad Last-Event-ID',
    () =>
      fetch(`${sync.server.url}/api/spaces/${space}/live`, {
        headers: { ...auth(token), 'Last-Event-ID': 'nope' },
      }),
    400,
  ],
  ['an unknown API route', () => fetch(`${sync.server.url}/api/nothing`), 404],
  ['an unknown route', () => fetch(`${sync.server.url}/nothing`), 404],
  [
    'a wrong method',
    // 405 since issue 13 (item 1): the route is there, the method is not served.
    () => fetch(`${sync.server.url}/api/spaces/${space}/push`, { headers: auth(token) }),
    405,
  ],
];

describe('bad input', () => {
  it.each(cases)(
    'answers %s with a JSON error and leaves Redis unchanged',
    async (_, send, status) => {
      const before = await sync.redis.snapshot();
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toContain('application/json');
      const body = errorBodySchema.parse(await response.json());
      expect(body.error.message.length).toBeGreaterThan(0);
      expect(await sync.redis.snapshot()).toEqual(before);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    },
  );

  it('says a coded body was refused for its coding (Accept-Encoding), and no other 415 does', async () => {
    const coded = await rawPush(goodPush(), { ...json, ...gzip });
    expect(coded.status).toBe(415);
    expect(coded.headers.get('Accept-Encoding')).toBe('identity');
    expect(errorBodySchema.parse(await coded.json()).error.message).toMatch(
      /not encoded \(Content-Encoding: gzip\)/,
    );
    for (const contentType of ['application/json; charset=utf-16', 'text/plain']) {
      const refused = await rawPush(goodPush(), { 'Content-Type': contentType });
      expect(refused.status, contentType).toBe(415);
      expect(refused.headers.get('Accept-Encoding'), contentType).toBeNull();
    }
  });

  it('takes a UTF-8 JSON body however its headers say so', async () => {
    for (const headers of [
      { 'Content-Type': 'application/json; charset=utf-8' },
      { 'Content-Type': 'Application/JSON; Charset=UTF-8' },
      { 'Content-Type': 'application/json;charset="utf-8"' },
      { ...json, 'Content-Encoding': 'identity' },
    ]) {
      const response = await rawPush(goodPush(), headers);
      expect(response.status, JSON.stringify(headers)).toBe(200);
    }
    const created = await fetch(`${sync.server.url}/api/spaces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=UTF-8' },
      body: JSON.stringify({ name: 'Phone' }),
    });
    expect(created.status).toBe(201);
  });

  it('still accepts a good push afterwards', async () => {
    const response = await push(
      sync.server.url,
      space,
      token,
      pushBody(stream, 1, events(stream, 1, ['Incremented'])),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      results: [{ stream, status: 'accepted', version: 2 }],
    });
  });
});
