import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../server/redis-store.ts';
import { startRedisServer, type TestRedis } from '../helpers/redis-server.ts';
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

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.dispose();
});

describe('graceful shutdown', () => {
  it('finishes a push in flight, ends live streams, then refuses connections', async () => {
    const server = await startTestServer(redis.url);
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
    expect(await redis.client.llen(redisKeys.stream(space, stream))).toBe(2);
    await live.ended();
    await closed;
    await expect(fetch(`${server.url}/api/health`)).rejects.toThrow();
  });
});
