import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as https } from 'node:https';
import { createConnection, type Socket } from 'node:net';
import { connect as http2, constants, type ClientHttp2Session } from 'node:http2';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CreateSpaceResponse } from '../../core/protocol.ts';
import { freePort } from '../../server/local-redis.ts';
import type { RunningServer } from '../../server/server.ts';
import { refusedServerProcess, startServerProcess } from '../reliability/server-process.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { auth, secret, startTestServer, waitFor } from './fixtures.ts';

// A self-signed certificate for 127.0.0.1, made for this file and removed after it.
const dir = mkdtempSync(join(tmpdir(), 'tally-tls-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sync = syncServerFixture({
  server: { tls: { cert, key }, requestTimeoutMs: 800, headersTimeoutMs: 800 },
});

/** One HTTP/1.1-over-TLS request through a keep-alive agent: the socket it leaves open. */
function keptAliveSocket(url: string, agent: Agent): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const request = https(
      `${url}/api/health`,
      { agent, ca: cert, ALPNProtocols: ['http/1.1'] } as Parameters<typeof https>[1],
      (response) => {
        const { socket } = response;
        response.resume();
        response.on('end', () => resolve(socket));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('HTTPS (TALLY_TLS_CERT, TALLY_TLS_KEY)', () => {
  it('serves HTTP/1.1 over TLS to a client that trusts the certificate', async () => {
    expect(sync.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const { status, protocol, body } = await new Promise<{
      status: number;
      protocol: string;
      body: string;
    }>((resolve, reject) => {
      const req = https(
        `${sync.url}/api/health`,
        { ca: cert, ALPNProtocols: ['http/1.1'] } as Parameters<typeof https>[1],
        (res) => {
          let body = '';
          const protocol = (res.socket as { alpnProtocol?: string } | null)?.alpnProtocol ?? '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              protocol,
              body,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect({ status, protocol }).toEqual({ status: 200, protocol: 'http/1.1' });
    expect(JSON.parse(body)).toMatchObject({ ok: true });
  });

  it('serves HTTP/2 to a client that offers it', async () => {
    const session = http2(sync.url, { ca: cert });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/api/health' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      expect(status).toBe(200);
      expect(session.alpnProtocol).toBe('h2');
    } finally {
      session.close();
    }
  });

  it('refuses a client that does not trust the certificate', async () => {
    const error = await new Promise<Error>((resolve) => {
      const req = https(`${sync.url}/api/health`, {}, () => resolve(new Error('answered')));
      req.on('error', resolve);
      req.end();
    });
    expect(error.message).toMatch(/self.signed|certificate/i);
  });
});

/** One request on an HTTP/2 session; resolves with its status and body. */
const h2Request = (
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let status = 0;
    let text = '';
    stream.on('response', (response) => (status = Number(response[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', reject);
    // A GET is ended with its headers.
    if (!stream.writableEnded) stream.end(body);
  });

const createSpaceOver = async (session: ClientHttp2Session): Promise<CreateSpaceResponse> => {
  const { status, body } = await h2Request(session, { ':method': 'POST', ':path': '/api/spaces' });
  if (status !== 201) throw new Error(`createSpace: ${status}`);
  return JSON.parse(body) as CreateSpaceResponse;
};

/** The headers of a push promising 1,000 bytes, of which only the first few are ever sent. */
const stalledHeaders = (token: string) => ({
  ...auth(token),
  'Content-Type': 'application/json',
  'Content-Length': '1000',
});

/** A push over HTTP/1.1 (ALPN) whose body never finishes; resolves with what came back. */
const stalledH1Push = (url: string, space: string, token: string) =>
  new Promise<{ status?: number; closed: boolean }>((resolve) => {
    const request = https(`${url}/api/spaces/${space}/push`, {
      method: 'POST',
      headers: stalledHeaders(token),
      ca: cert,
      ALPNProtocols: ['http/1.1'],
    } as Parameters<typeof https>[1]);
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode, closed: false }));
    });
    request.on('error', () => resolve({ closed: true }));
    request.write('{"streams":');
  });

/** A push as an HTTP/2 stream whose body never finishes; resolves with its status and reset code. */
const stalledH2Push = (session: ClientHttp2Session, space: string, token: string) =>
  new Promise<{ status?: number; rstCode: number }>((resolve) => {
    const { 'Content-Length': _length, ...headers } = stalledHeaders(token);
    const stream = session.request({
      ':method': 'POST',
      ':path': `/api/spaces/${space}/push`,
      ...headers,
    });
    let status: number | undefined;
    stream.on('response', (response) => (status = Number(response[':status'])));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ status, rstCode: stream.rstCode ?? -1 }));
    stream.resume();
    stream.write('{"streams":');
  });

/**
 * Node 20 ignores the timeouts among createSecureServer's options (300 s for a request) and has
 * no request timeout for HTTP/2 streams at all; secure-server.ts keeps them.
 */
describe('a body that never finishes, over TLS', () => {
  it('is given the server’s timeouts, not Node’s five minutes', () => {
    expect(sync.server.http.requestTimeout).toBe(800);
    expect(sync.server.http.headersTimeout).toBe(800);
  });

  it('is cut off with 408 at the request timeout over HTTP/1.1', async () => {
    const session = http2(sync.url, { ca: cert });
    try {
      const { space, token } = await createSpaceOver(session);
      const began = Date.now();
      const answer = await stalledH1Push(sync.url, space, token);
      expect(answer.closed || answer.status === 408).toBe(true);
      // Well before Node's own 300 s, and not before the 800 ms.
      expect(Date.now() - began).toBeGreaterThanOrEqual(700);
      expect(Date.now() - began).toBeLessThan(20_000);
      await waitFor(() => sync.server.app.stats().inFlight === 0, 'the push to be let go');
    } finally {
      session.close();
    }
  });

  it('is answered 408 and reset with NO_ERROR at the request timeout over HTTP/2', async () => {
    const session = http2(sync.url, { ca: cert });
    try {
      const { space, token } = await createSpaceOver(session);
      const began = Date.now();
      const answer = await stalledH2Push(session, space, token);
      expect(answer).toEqual({ status: 408, rstCode: constants.NGHTTP2_NO_ERROR });
      expect(Date.now() - began).toBeGreaterThanOrEqual(700);
      await waitFor(() => sync.server.app.stats().inFlight === 0, 'the push to be let go');
      // The session itself is still good for the next request.
      const health = await h2Request(session, { ':path': '/api/health' });
      expect(health.status).toBe(200);
    } finally {
      session.close();
    }
  });

  describe('at shutdown', () => {
    // A shutdown deadline longer than the test: only the request timeout can end the wait.
    const start = (requestTimeoutMs: number): Promise<RunningServer> =>
      startTestServer(sync.redis.url, {
        tls: { cert, key },
        requestTimeoutMs,
        shutdownTimeoutMs: 600_000,
      });

    it('does not wait for stalled bodies over HTTP/1.1 and HTTP/2', async () => {
      const server = await start(500);
      const session = http2(server.url, { ca: cert });
      const { space, token } = await createSpaceOver(session);
      const h1 = stalledH1Push(server.url, space, token);
      const h2 = stalledH2Push(session, space, token);
      await waitFor(() => server.app.stats().inFlight === 2, 'both pushes to be in flight');
      await server.close();
      await Promise.all([h1, h2]);
      expect(server.app.stats().inFlight).toBe(0);
      session.destroy();
    });

    it('does not wait for an idle HTTP/2 session or keep-alive HTTP/1.1 connection', async () => {
      // The default request timeout (30 s): nothing here is cut off by it.
      const server = await start(30_000);
      const session = http2(server.url, { ca: cert });
      expect((await h2Request(session, { ':path': '/api/health' })).status).toBe(200);
      const sessionClosed = new Promise((resolve) => session.once('close', resolve));
      const agent = new Agent({ keepAlive: true });
      const keptAlive = await keptAliveSocket(server.url, agent);
      const socketClosed = new Promise((resolve) => keptAlive.once('close', resolve));
      await server.close();
      await Promise.all([sessionClosed, socketClosed]);
      agent.destroy();
    });

    it('does not wait for a connection that never finished its TLS handshake', async () => {
      const server = await startTestServer(sync.redis.url, {
        tls: { cert, key },
        shutdownTimeoutMs: 300,
      });
      const { port } = new URL(server.url);
      const raw = createConnection({ host: '127.0.0.1', port: Number(port) });
      await new Promise((resolve) => raw.once('connect', resolve));
      const rawClosed = new Promise((resolve) => raw.once('close', resolve));
      // Its handshake would have it held until the handshake timeout (10 s here); the shutdown
      // deadline (300 ms) ends it.
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([
        server.close(),
        new Promise((_, reject) => {
          bound = setTimeout(() => reject(new Error('shutdown waited for the handshake')), 5_000);
        }),
      ]);
      clearTimeout(bound);
      await rawClosed;
    });
  });

  it('closes a kept-alive HTTP/1.1 connection left idle, as plain HTTP does', async () => {
    const agent = new Agent({ keepAlive: true });
    const keptAlive = await keptAliveSocket(sync.url, agent);
    // The server ends it after its keep-alive time (5 s); without one it stayed open.
    await new Promise((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error('still open after 15 s')), 15_000);
      keptAlive.once('close', () => {
        clearTimeout(bound);
        resolve(undefined);
      });
    });
    agent.destroy();
  }, 20_000);
});

/** `npm start` reads the certificate from the environment (server/main.ts tlsFromEnv). */
describe('npm start with TALLY_TLS_CERT and TALLY_TLS_KEY', () => {
  const files = () => ({
    TALLY_TLS_CERT: join(dir, 'cert.pem'),
    TALLY_TLS_KEY: join(dir, 'key.pem'),
  });

  it('on HOST=0.0.0.0, says its https addresses on the network and serves HTTP/2', async () => {
    const port = await freePort();
    const server = await startServerProcess({
      port,
      redisUrl: sync.redis.url,
      secret,
      ca: cert,
      env: { HOST: '0.0.0.0', ...files() },
    });
    try {
      expect(server.url).toBe(`https://127.0.0.1:${port}`);
      const session = http2(server.url, { ca: cert });
      try {
        const health = await h2Request(session, { ':path': '/api/health' });
        expect(health.status).toBe(200);
        expect(JSON.parse(health.body)).toMatchObject({ ok: true });
        expect(session.alpnProtocol).toBe('h2');
      } finally {
        session.close();
      }

      // What a phone on the network would open: every non-internal IPv4 address of this
      // machine (a machine without one has nothing to list).
      const addresses = Object.values(networkInterfaces())
        .flat()
        .filter((info) => info !== undefined && !info.internal && info.family === 'IPv4')
        .map((info) => info!.address);
      await waitFor(
        () =>
          server.output().includes(`Tally is running at https://0.0.0.0:${port}`) &&
          addresses.every((address) =>
            server.output().includes(`Tally: reachable at https://${address}:${port}\n`),
          ),
        'the addresses to be said',
      );
      expect(server.output()).not.toMatch(/reachable at http:|without TLS|this computer only/);
    } finally {
      await server.stop();
    }
  });

  it('with only TALLY_TLS_CERT set, refuses to start and asks for both', async () => {
    const { code, output } = await refusedServerProcess({
      port: await freePort(),
      redisUrl: sync.redis.url,
      secret,
      env: { TALLY_TLS_CERT: files().TALLY_TLS_CERT },
    });
    expect(code).not.toBe(0);
    expect(output).toContain(
      'Tally could not start: Set both TALLY_TLS_CERT and TALLY_TLS_KEY (PEM files), or neither.',
    );
  });
});
