import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CreateSpaceResponse, FeedEntry } from '../../core/protocol.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../server/server.ts';
import { seedsOf } from '../helpers/redis-cluster.ts';

export const secret = 'a-test-secret-that-is-long-enough-0123456789';

/**
 * The server as `npm start` runs it (rate limits on, at their defaults), on a free port, quiet.
 * Tests that prove a refused request writes nothing to Redis pass `rateLimit: false`: counting a
 * request is itself a write. `redis` is a Redis URL, or `redis-cluster://host:port,…` for a
 * Cluster (the fixture's `redis.url` on the cluster).
 */
export function startTestServer(
  redis: string,
  options: Partial<ServerOptions> = {},
): Promise<RunningServer> {
  const seeds = seedsOf(redis);
  return startServer({
    redis: seeds ? { cluster: seeds } : redis,
    secret,
    port: 0,
    log: false,
    staticDir: false,
    heartbeatMs: 50,
    liveRereadMs: 200,
    // On the shared cluster every file's servers count the one loopback address together; the
    // per-address limits are tested on a redis-server of their own (limits.int.test.ts).
    ...(seeds
      ? { rateLimit: { createPerIpPerMinute: 100_000, refusedPerIpPerMinute: 100_000 } }
      : {}),
    ...options,
  });
}

const id = () => randomUUID().replaceAll('-', '').slice(0, 20);

export const streamOf = () => `counter-${id()}`;

type Kind = 'Created' | 'Incremented' | 'Decremented' | 'Renamed' | 'Archived' | 'Restored';

/** Counter events for `stream`, numbered from `after + 1`, in today's schema (as a device writes). */
export function events(stream: string, after: number, kinds: readonly Kind[]): EventEnvelope[] {
  const command = `cmd-${id()}`;
  return kinds.map((type, index) => ({
    id: `ev-${id()}`,
    stream,
    version: after + index + 1,
    type,
    data:
      type === 'Created' || type === 'Renamed'
        ? { name: `Counter ${index}` }
        : type === 'Incremented'
          ? { amount: 1 }
          : {},
    meta: {
      time: 1_700_000_000_000 + index,
      device: 'device-test-1',
      command,
      schema: type === 'Incremented' ? 2 : 1,
    },
  }));
}

/** A push of one stream; `batch` is unknown[] so tests can send broken events too. */
export const pushBody = (stream: string, expectedVersion: number, batch: readonly unknown[]) => ({
  streams: [{ stream, expectedVersion, events: batch }],
});

export async function createSpace(url: string): Promise<CreateSpaceResponse> {
  const response = await fetch(`${url}/api/spaces`, { method: 'POST' });
  if (response.status !== 201) throw new Error(`createSpace: ${response.status}`);
  return (await response.json()) as CreateSpaceResponse;
}

export const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

export function push(url: string, space: string, token: string, body: unknown): Promise<Response> {
  return fetch(`${url}/api/spaces/${space}/push`, {
    method: 'POST',
    headers: { ...auth(token), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Waits for a condition with a deadline, checking again every few milliseconds: tests wait for
 * what they need, never for a fixed time.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export type SseMessage = { readonly id?: string; readonly event?: string; readonly data: string };

export type LiveClient = {
  readonly response: Response;
  readonly messages: SseMessage[];
  /** Count of `:` comments (heartbeats) seen. */
  readonly comments: () => number;
  /** All feed entries received so far, in order. */
  entries(): FeedEntry[];
  /** Resolves once at least `count` entries arrived. */
  waitForEntries(count: number, timeoutMs?: number): Promise<FeedEntry[]>;
  /** Resolves once the server ended the stream. */
  ended(): Promise<void>;
  close(): void;
};

/** An SSE client over fetch, so a test can send headers (`Last-Event-ID`) and read everything. */
export async function openLive(
  url: string,
  headers: Record<string, string> = {},
): Promise<LiveClient> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const messages: SseMessage[] = [];
  let comments = 0;
  let done = false;
  const reading = (async () => {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++;
            const at = line.indexOf(': ');
            if (at > 0) {
              const key = line.slice(0, at);
              fields[key] =
                key === 'data' && fields[key]
                  ? `${fields[key]}\n${line.slice(at + 2)}`
                  : line.slice(at + 2);
            }
          }
          if (fields['data'] !== undefined)
            messages.push({ id: fields['id'], event: fields['event'], data: fields['data'] });
        }
      }
    } catch {
      // Aborted by close().
    } finally {
      done = true;
    }
  })();
  const entries = () =>
    messages.filter((m) => m.event === undefined).flatMap((m) => JSON.parse(m.data) as FeedEntry[]);
  return {
    response,
    messages,
    comments: () => comments,
    entries,
    waitForEntries: (count, timeoutMs) =>
      waitFor(() => entries().length >= count && entries(), `${count} live entries`, timeoutMs),
    ended: async () => {
      await waitFor(() => done, 'the live stream to end');
      await reading;
    },
    close: () => abort.abort(),
  };
}
