import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../server/redis-store.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import {
  auth,
  createSpace,
  events,
  openLive,
  pushBody,
  startTestServer,
  streamOf,
  waitFor,
} from './fixtures.ts';

// Each test starts (and shuts down) its own server.
const sync = syncServerFixture({ instances: 0 });

describe('graceful shutdown', () => {
  it('finishes a push in flight, ends live streams, then refuses connections', async () => {
    const server = await startTestServer(sync.redis.url);
    const { space, token } = await createSpace(server.url);
    const live = await openLive(`${server.url}/api/spaces/${space}/live`, auth(token));
    await waitFor(() => server.app.stats().liveStreams === 1, 'the live stream');

    const stream = streamOf();
    const body = Buffer.from(
      JSON.stringify(pushBody(stream, 0, events(stream, 0, ['Created', 'Incremented']))),
    );
    // Half a body: the push is in flight, its handler waiting for the rest.
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${server.url}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: {
          ...auth(token),
          'Content-Type': 'application/json',
          'Content-Length': body.length,
        },
      });
      request.on('error', reject);
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.write(body.subarray(0, 10));
      void waitFor(() => server.app.stats().inFlight > 0, 'the push to be in flight').then(() => {
        closed = server.close();
        // The rest of the body arrives after shutdown began.
        void waitFor(() => server.app.stats().liveStreams === 0, 'live streams to end').then(() =>
          request.end(body.subarray(10)),
        );
      });
    });
    let closed: Promise<void> | undefined;

    const { status, body: text } = await answer;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ results: [{ stream, status: 'accepted', version: 2 }] });
    expect(await sync.redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    await live.ended();
    await closed;
    await expect(fetch(`${server.url}/api/health`)).rejects.toThrow();
  });
});

/**
 * Issue 13, item 8: an authenticated push whose body never arrives was held for Node's default
 * five minutes, and shutdown waited for it.
 */
describe('a body that never finishes', () => {
  /** Sends the headers and 10 bytes of a push, never the rest; resolves with what came back. */
  const stalledPush = (url: string, space: string, token: string) =>
    new Promise<{ status?: number; closed: boolean }>((resolve) => {
      const request = httpRequest(`${url}/api/spaces/${space}/push`, {
        method: 'POST',
        headers: { ...auth(token), 'Content-Type': 'application/json', 'Content-Length': 1_000 },
      });
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode, closed: false }));
      });
      request.on('error', () => resolve({ closed: true }));
      request.write('{"streams":');
    });

  it('has request and header timeouts that fit a 1 MiB body, not Node’s five minutes', async () => {
    const server = await startTestServer(sync.redis.url);
    try {
      expect(server.http.requestTimeout).toBe(30_000);
      expect(server.http.headersTimeout).toBe(10_000);
    } finally {
      await server.close();
    }
  });

  it('is cut off with 408 at the request timeout', async () => {
    const server = await startTestServer(sync.redis.url, { requestTimeoutMs: 500 });
    try {
      const { space, token } = await createSpace(server.url);
      const answer = await stalledPush(server.url, space, token);
      expect(answer.closed || answer.status === 408).toBe(true);
      await waitFor(() => server.app.stats().inFlight === 0, 'the push to be let go');
    } finally {
      await server.close();
    }
  });

  it('does not hold graceful shutdown', async () => {
    // A shutdown deadline longer than the test: only the request timeout can end the wait.
    const server = await startTestServer(sync.redis.url, {
      requestTimeoutMs: 500,
      shutdownTimeoutMs: 600_000,
    });
    const { space, token } = await createSpace(server.url);
    const answer = stalledPush(server.url, space, token);
    await waitFor(() => server.app.stats().inFlight > 0, 'the push to be in flight');
    await server.close();
    await answer;
    expect(server.app.stats().inFlight).toBe(0);
  });
});
