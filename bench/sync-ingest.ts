import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import type { CreateSpaceResponse, PushRequest } from '../core/protocol.ts';
import { createRedisStore } from '../server/redis-store.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { median } from './stats.ts';

const EVENTS = 50_000;
const STREAMS_PER_PUSH = 10;
const EVENTS_PER_STREAM = 100; // 1,000 events per push: the protocol's maximum
const LANES = 4;
const SINGLE_EVENTS = 10_000;

type Push = PushRequest['streams'];

/** `EVENTS` events as pushes of 10 streams × 100 events, each stream new. */
function pushes(label: string): Push[] {
  const out: Push[] = [];
  const perPush = STREAMS_PER_PUSH * EVENTS_PER_STREAM;
  for (let p = 0; p < EVENTS / perPush; p++)
    out.push(
      Array.from({ length: STREAMS_PER_PUSH }, (_, s) => {
        const stream = `counter-${label}${p}x${s}`;
        return {
          stream,
          expectedVersion: 0,
          events: Array.from({ length: EVENTS_PER_STREAM }, (_, i) => ({
            id: randomUUID(),
            stream,
            version: i + 1,
            type: i === 0 ? 'Created' : 'Incremented',
            data: i === 0 ? { name: stream } : {},
            meta: {
              time: Date.now(),
              device: 'device-bench-sync',
              command: randomUUID(),
              schema: 1,
            },
          })),
        };
      }),
    );
  return out;
}

/** Runs `work` over `items`, `lanes` at a time; answers elapsed ms. */
async function lanes<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
  return performance.now() - t0;
}

export async function newSpace(origin: string): Promise<CreateSpaceResponse> {
  const response = await fetch(`${origin}/api/spaces`, { method: 'POST' });
  if (response.status !== 201) throw new Error(`POST /api/spaces: ${response.status}`);
  return (await response.json()) as CreateSpaceResponse;
}

/** One ingest over HTTP: `EVENTS` events into a fresh space, from a thread of its own; ms. */
async function overHttp(origin: string, label: string): Promise<number> {
  const { space, token } = await newSpace(origin);
  // The bodies are made before the clock starts, as the baseline's appends are, and sent from
  // a thread of their own (bench/ingest-client.mjs): the client's JSON and sockets are not the
  // server's work, and the baseline's ioredis client has this thread to itself too.
  const bodies = pushes(label).map((streams) => JSON.stringify({ streams } satisfies PushRequest));
  return new Promise<number>((resolve, reject) => {
    const client = new Worker(new URL('./ingest-client.mjs', import.meta.url), {
      workerData: { origin, space, token, bodies, lanes: LANES },
    });
    client.once('message', (ms: number) => resolve(ms));
    client.once('error', reject);
    client.once('exit', (code) => reject(new Error(`The ingest client exited (${code}).`)));
  });
}

/** Rounds of each, taken in turn: one round's ratio swings with what else the two cores run. */
const ROUNDS = 3;

/**
 * §6: the server's ingest over HTTP (validation, auth, JSON, the Lua append) beside the same
 * appends made straight through ioredis with the same script (createRedisStore); the median of
 * `ROUNDS` of each, taken in turn.
 */
export async function measureIngest(bench: Bench): Promise<Row[]> {
  bench.log(
    `§6 sync ingest: ${EVENTS} events over HTTP, then straight through ioredis, ${ROUNDS} times`,
  );
  const redis = new Redis(bench.redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    const store = createRedisStore(redis);
    const httpMs: number[] = [];
    const directMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      httpMs.push(await overHttp(bench.origin, `h${round}r`));
      const direct = pushes(`d${round}r`);
      const directSpace = (await newSpace(bench.origin)).space;
      directMs.push(
        await lanes(direct, async (streams) => {
          await store.append(directSpace, streams);
        }),
      );
    }
    const single = pushes('s')
      .flat()
      .flatMap(({ stream, events }) =>
        events.map((event, i) => ({ stream, expectedVersion: i, events: [event] })),
      )
      .slice(0, SINGLE_EVENTS);
    const singleSpace = (await newSpace(bench.origin)).space;
    const singleMs = await lanes(single, async (append) => {
      await store.append(singleSpace, [append]);
    });
    return [
      {
        section: '6 sync',
        figure: `server ingest over HTTP: pushes of 1,000 events (10 streams), ${LANES} in flight`,
        value: (EVENTS / median(httpMs)) * 1000,
        unit: 'events/s',
        baseline: {
          label: `same appends, same Lua script, straight through ioredis (median of ${ROUNDS} each)`,
          value: (EVENTS / median(directMs)) * 1000,
        },
      },
      {
        section: '6 sync',
        figure: `reference: one Lua append per event through ioredis, ${LANES} in flight`,
        value: (SINGLE_EVENTS / singleMs) * 1000,
        unit: 'events/s',
      },
    ];
  } finally {
    redis.disconnect();
  }
}
