import { randomUUID } from 'node:crypto';
import type { PushRequest } from '../core/protocol.ts';
import { freePort } from '../server/local-redis.ts';
import { startServerProcess, type ServerProcess } from '../test/reliability/server-process.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { newSpace } from './sync-ingest.ts';
import { percentile } from './stats.ts';

const ROUNDS = 200;
/** Rounds before the timed ones: connections made, code warm, the follower subscribed. */
const WARMUP = 30;
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';

/**
 * A live feed read as a device reads it (`GET …/live`, server-sent events): `seen(id)` resolves
 * when a message carrying that event id has arrived.
 */
async function follow(origin: string, space: string, token: string) {
  const abort = new AbortController();
  const response = await fetch(`${origin}/api/spaces/${space}/live?after=0`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (response.status !== 200 || !response.body)
    throw new Error(`GET /live on ${origin}: ${response.status}`);
  const waiting = new Map<string, (at: number) => void>();
  const arrived = new Map<string, number>();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
      if (done) return;
      const at = performance.now();
      buffer += value;
      const end = buffer.lastIndexOf('\n\n');
      if (end < 0) continue;
      const messages = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const [, id] of messages.matchAll(/"id":"([0-9a-f-]{36})"/g)) {
        const wake = waiting.get(id!);
        if (wake) wake(at);
        else arrived.set(id!, at);
      }
    }
  })();
  return {
    seen: (id: string) =>
      new Promise<number>((resolve) => {
        const at = arrived.get(id);
        if (at !== undefined) resolve(at);
        else waiting.set(id, resolve);
      }),
    close: () => abort.abort(),
  };
}

/**
 * §6 across instances (issue 16): a push on instance A reaches a device following the space live
 * on instance B (the append script's sharded publish, B's follower, its SSE) — against the push's
 * own round trip, the least any device can wait for its own write. Both instances are
 * `npm start` processes of their own on the bench's Redis; the client is this process.
 */
export async function measureCrossInstance(bench: Bench): Promise<Row[]> {
  const started: ServerProcess[] = [];
  try {
    for (let i = 0; i < 2; i++)
      started.push(
        await startServerProcess({
          port: await freePort(),
          redisUrl: bench.redisUrl,
          secret: SECRET,
          env: { TALLY_RATE_LIMIT: 'false' },
        }),
      );
    const [a, b] = started as [ServerProcess, ServerProcess];
    const { space, token } = await newSpace(a.url);
    const onB = await follow(b.url, space, token);
    const onA = await follow(a.url, space, token);
    const stream = `counter-${randomUUID()}`;
    const rtt: number[] = [];
    const toB: number[] = [];
    const toA: number[] = [];
    try {
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        const id = randomUUID();
        const body: PushRequest = {
          streams: [
            {
              stream,
              expectedVersion: round,
              events: [
                {
                  id,
                  stream,
                  version: round + 1,
                  type: round === 0 ? 'Created' : 'Incremented',
                  data: round === 0 ? { name: 'Bench' } : { amount: 1 },
                  meta: {
                    time: Date.now(),
                    device: 'device-bench',
                    command: randomUUID(),
                    schema: round === 0 ? 1 : 2,
                  },
                },
              ],
            },
          ],
        };
        const seenB = onB.seen(id);
        const seenA = onA.seen(id);
        const t0 = performance.now();
        const response = await fetch(`${a.url}/api/spaces/${space}/push`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        await response.arrayBuffer();
        const answered = performance.now();
        if (response.status !== 200) throw new Error(`push: ${response.status}`);
        const [atB, atA] = await Promise.all([seenB, seenA]);
        if (round < WARMUP) continue;
        rtt.push(answered - t0);
        toB.push(atB - t0);
        toA.push(atA - t0);
      }
    } finally {
      onA.close();
      onB.close();
    }
    const baseline = (p: number) => ({
      label: `the push's own round trip, p${p}`,
      value: percentile(rtt, p),
    });
    const note = `${ROUNDS} single-event pushes to instance A, each after the last arrived; both instances are npm start processes on one Redis; goal: within 1 ms of the push's round trip`;
    return [
      {
        section: '6 sync: instances',
        figure: 'push on A → live feed on B, p50',
        value: percentile(toB, 50),
        unit: 'ms',
        baseline: baseline(50),
        note,
      },
      {
        section: '6 sync: instances',
        figure: 'push on A → live feed on B, p99',
        value: percentile(toB, 99),
        unit: 'ms',
        baseline: baseline(99),
      },
      {
        section: '6 sync: instances',
        figure: 'push on A → live feed on A, p50',
        value: percentile(toA, 50),
        unit: 'ms',
        baseline: baseline(50),
      },
    ];
  } finally {
    for (const server of started.reverse()) await server.stop().catch(() => undefined);
  }
}
