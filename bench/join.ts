import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  inviteResponseSchema,
  pullResponseSchema,
  snapshotPageSchema,
  type PushRequest,
} from '../core/protocol.ts';
import { newProfile, openApp, type TallyGlobal, type Win } from './pages.ts';
import { createRedisStore } from '../server/redis-store.ts';
import type { Row } from './report.ts';
import type { Bench } from './section.ts';
import { newSpace } from './sync-ingest.ts';

const COUNTERS = 1_000;
const EVENTS_PER_COUNTER = 1_000;
const STREAMS_PER_PUSH = 10;
const EVENTS_PER_PUSH_STREAM = 100;

/**
 * §6: a device joining a space of 1,000 counters and 1,000,000 events. What it reads from the
 * server: every page of the space's snapshots (GET /snapshots, server/snapshots.ts), beside
 * every page of its feed from the beginning (GET /events), which is what a join by the feed
 * reads; both over HTTP, parsed with the protocol's schemas as a device does. Then a fresh
 * profile's app joins it for real: the time until its counter view holds every counter at its
 * value, beside the feed's pages alone (a join by the feed would also store every event).
 */
export async function measureJoin(bench: Bench): Promise<Row[]> {
  const { space, token } = await newSpace(bench.origin);
  const headers = { Authorization: `Bearer ${token}` };

  bench.log(
    `§6 join: seeding ${COUNTERS.toLocaleString('en-US')} counters × ${EVENTS_PER_COUNTER.toLocaleString('en-US')} events through the store`,
  );
  // Seeded the way pushes land (the append script, snapshots kept every 100 events), straight
  // through ioredis: a million events over HTTP would take this whole bench's time.
  const redis = new Redis(bench.redisUrl, { lazyConnect: true });
  const t0 = performance.now();
  try {
    await redis.connect();
    const store = createRedisStore(redis);
    for (let group = 0; group < COUNTERS / STREAMS_PER_PUSH; group++) {
      const ids = Array.from({ length: STREAMS_PER_PUSH }, (_, s) => `counter-join${group}x${s}`);
      // Each push names the event it follows, as a device's does.
      const last = new Map<string, string>();
      for (let from = 0; from < EVENTS_PER_COUNTER; from += EVENTS_PER_PUSH_STREAM) {
        const streams: PushRequest['streams'] = ids.map((stream) => ({
          stream,
          expectedVersion: from,
          ...(last.has(stream) ? { expectedId: last.get(stream)! } : {}),
          events: Array.from({ length: EVENTS_PER_PUSH_STREAM }, (_, i) => ({
            id: randomUUID(),
            stream,
            version: from + i + 1,
            type: from + i === 0 ? 'Created' : 'Incremented',
            data: from + i === 0 ? { name: stream } : { amount: 1 },
            meta: {
              time: Date.now(),
              device: 'device-bench-join',
              command: randomUUID(),
              schema: from + i === 0 ? 1 : 2,
            },
          })),
        }));
        for (const { stream, events } of streams) last.set(stream, events.at(-1)!.id);
        const results = await store.append(space, streams);
        if (results.some((result) => result.status !== 'accepted'))
          throw new Error('The join seed was not accepted.');
      }
    }
    await store.idle?.();
  } finally {
    redis.disconnect();
  }
  bench.log(`§6 join: seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const t1 = performance.now();
  let page: string | undefined = '0';
  // A page asked again (a fold not finished) sends some streams twice: counted once.
  const values = new Map<string, number>();
  let snapshotPages = 0;
  while (page !== undefined) {
    const answer = await fetch(`${bench.origin}/api/spaces/${space}/snapshots?page=${page}`, {
      headers,
    });
    if (answer.status !== 200) throw new Error(`GET /snapshots: ${answer.status}`);
    const body = snapshotPageSchema.parse(await answer.json());
    for (const snapshot of body.streams)
      values.set(snapshot.stream, (snapshot.rows[0]?.value as { value: number }).value);
    page = body.next;
    snapshotPages++;
  }
  const snapshotsMs = performance.now() - t1;
  const streams = values.size;
  const counted = [...values.values()].reduce((sum, value) => sum + value, 0);
  if (streams !== COUNTERS || counted !== COUNTERS * (EVENTS_PER_COUNTER - 1))
    throw new Error(`The snapshots hold ${streams} counters counting ${counted}.`);

  bench.log('§6 join: the same space read from its feed, as a join does today');
  const t2 = performance.now();
  let after = '0';
  let entries = 0;
  let feedPages = 0;
  for (;;) {
    const answer = await fetch(`${bench.origin}/api/spaces/${space}/events?after=${after}`, {
      headers,
    });
    if (answer.status !== 200) throw new Error(`GET /events: ${answer.status}`);
    const body = pullResponseSchema.parse(await answer.json());
    entries += body.entries.length;
    after = body.cursor;
    feedPages++;
    if (!body.more) break;
  }
  const feedMs = performance.now() - t2;
  if (entries !== COUNTERS * EVENTS_PER_COUNTER) throw new Error(`The feed held ${entries}.`);

  bench.log('§6 join: a new device (a fresh profile, the app) joins the space');
  const invited = await fetch(`${bench.origin}/api/spaces/${space}/invites`, {
    method: 'POST',
    headers,
  });
  if (invited.status !== 201 && invited.status !== 200)
    throw new Error(`POST /invites: ${invited.status}`);
  const { invite } = inviteResponseSchema.parse(await invited.json());
  const context = await newProfile();
  let device: { usableMs: number; syncedMs: number };
  try {
    const page = await openApp(context, bench.origin);
    device = await page.evaluate(
      async ([origin, invite, counters, value]) => {
        const tally = (globalThis as unknown as Win).tally as unknown as TallyGlobal & {
          joinSpace(origin: string, invite: string): Promise<void>;
        };
        const t0 = performance.now();
        const values = new Map<string, number>();
        const usable = new Promise<number>((resolve) =>
          tally.subscribe({ topic: 'view', view: 'counters' }, (update) => {
            if (update.type !== 'view') return;
            if (update.reset) values.clear();
            for (const { key, value: row } of update.rows)
              values.set(key, (row as { value: number }).value);
            for (const key of update.removed) values.delete(key);
            if (values.size === counters && [...values.values()].every((v) => v === value))
              resolve(performance.now() - t0);
          }),
        );
        const synced = new Promise<number>((resolve) =>
          tally.subscribe({ topic: 'sync' }, (update) => {
            if (update.type === 'sync' && update.state === 'synced' && update.pending === 0)
              resolve(performance.now() - t0);
          }),
        );
        await tally.joinSpace(origin, invite);
        return { usableMs: await usable, syncedMs: await synced };
      },
      [bench.origin, invite, COUNTERS, EVENTS_PER_COUNTER - 1] as const,
    );
  } finally {
    await context.close().catch(() => undefined);
  }
  return [
    {
      section: '6 sync',
      figure:
        'a new device joins 1,000 counters / 1,000,000 events: every counter at its value in its view',
      value: device.usableMs,
      unit: 'ms',
      baseline: {
        label: 'reading the feed’s pages alone, what joining by the feed costs at the least',
        value: feedMs,
      },
      note: `synced (following the live feed) after ${Math.round(device.syncedMs).toLocaleString('en-US')} ms; the app page of a fresh profile, from its joinSpace call`,
    },
    {
      section: '6 sync',
      figure: `joining 1,000 counters / 1,000,000 events: every snapshot page read over HTTP (server side of a join)`,
      value: snapshotsMs,
      unit: 'ms',
      baseline: {
        label: `every feed page from 0 over HTTP, what a device joining by the feed reads (${feedPages.toLocaleString('en-US')} pages)`,
        value: feedMs,
      },
      note: `${snapshotPages} snapshot pages, ${streams.toLocaleString('en-US')} counters; the device's writes in neither`,
    },
  ];
}
