import { describe, expect, it } from 'vitest';
import { boardStream } from '../../core/models/board/order.ts';
import { models } from '../../core/models/index.ts';
import {
  errorBodySchema,
  snapshotPageSchema,
  streamEventsResponseSchema,
  type SnapshotPage,
} from '../../core/protocol.ts';
import { foldStream, type StreamSnapshot } from '../../core/stream-snapshot.ts';
import { redisKeys } from '../../server/redis-store.ts';
import type { RunningServer } from '../../server/server.ts';
import { serializeEvent, type Envelope } from '../../server/stored-event.ts';
import { counterId } from '../helpers/engine.ts';
import { converged, deviceFixture, synced } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import {
  auth,
  createSpace,
  events,
  push,
  pushBody,
  startTestServer,
  streamOf,
  waitFor,
} from './fixtures.ts';

/**
 * Issue 17, joining grows with counters: the server keeps each stream folded with the models'
 * own code (server/snapshots.ts), and `GET /api/spaces/:space/snapshots` answers them a page at
 * a time, each at least as far as the feed position the page names.
 */
const sync = syncServerFixture();
const device = deviceFixture();

/** Every page, following `next`; how many requests it took. */
async function allSnapshots(
  url: string,
  space: string,
  token: string,
): Promise<{
  cursor: string;
  streams: Map<string, StreamSnapshot>;
  histories: Map<string, number>;
  requests: number;
}> {
  const streams = new Map<string, StreamSnapshot>();
  const histories = new Map<string, number>();
  let page: string | undefined = '0';
  let cursor: string | undefined;
  let requests = 0;
  while (page !== undefined) {
    if (++requests > 1_000) throw new Error('The snapshot pages never ended.');
    const answer = await fetch(`${url}/api/spaces/${space}/snapshots?page=${page}`, {
      headers: auth(token),
    });
    expect(answer.status).toBe(200);
    const body: SnapshotPage = snapshotPageSchema.parse(await answer.json());
    cursor ??= body.cursor;
    for (const snapshot of body.streams) streams.set(snapshot.stream, snapshot);
    for (const { stream, version } of body.histories) histories.set(stream, version);
    page = body.next;
  }
  return { cursor: cursor!, streams, histories, requests };
}

describe('snapshots of a space', () => {
  it('are what the devices’ own projections made, for every stream, at the server’s versions', async () => {
    const a = await device();
    const names = ['Water', 'Push-ups', 'Pages', 'Old'];
    for (const [n, name] of names.entries())
      await a.engine.execute(counterId(n), { type: 'create', name });
    for (let i = 0; i < 7; i++) await a.engine.execute(counterId(0), { type: 'increment' });
    await a.engine.execute(counterId(1), [{ type: 'increment' }, { type: 'increment' }]);
    await a.engine.execute(counterId(1), { type: 'rename', name: 'Squats' });
    await a.engine.execute(counterId(2), { type: 'archive' });
    await a.engine.execute(counterId(3), { type: 'archive' });
    expect(
      await a.engine.execute(boardStream, [
        { type: 'place', counters: [0, 1, 2, 3].map(counterId) },
        { type: 'move', counter: counterId(1), after: null },
      ]),
    ).toMatchObject({ type: 'accepted' });
    const { space } = await a.sync.startSync(sync.url);
    await synced(a);
    const token = sync.server.app.tokens.issue(space);
    // Deleted forever: gone from the snapshots as from everything else.
    const deleted = await fetch(`${sync.url}/api/spaces/${space}/streams/${counterId(3)}`, {
      method: 'DELETE',
      headers: auth(token),
    });
    expect([200, 204]).toContain(deleted.status);
    const held = await converged([a], sync.redis, space);

    const { cursor, streams, histories } = await allSnapshots(sync.url, space, token);
    expect(cursor).toMatch(/^\d+-\d+$/);
    // The board's state grows with the space: it is read from its events, never folded here.
    expect([...histories]).toEqual([[boardStream, (held[boardStream] as unknown[]).length]]);
    expect(await sync.redis.client.hget(redisKeys.snaps(space), boardStream)).toBe('0');
    expect([...streams.keys()].sort()).toEqual(
      Object.keys(held)
        .filter((s) => s !== counterId(3) && s !== boardStream)
        .sort(),
    );
    for (const [stream, snapshot] of streams) {
      const events = held[stream] as { id: string; version: number }[];
      expect(snapshot.version).toBe(events.length);
      expect(snapshot.id).toBe(events.at(-1)!.id);
      // The device's rows of this stream, view by view.
      for (const projection of models.of(stream)) {
        const rows = (await a.engine.readView(projection)) as { id: string }[];
        const mine = rows.filter((row) => row.id === stream);
        const theirs = snapshot.rows.filter((row) => row.view === projection.view);
        expect(theirs.map((row) => row.value)).toEqual(mine);
      }
    }
    const water = streams.get(counterId(0))!;
    expect(water.rows[0]!.value).toMatchObject({ name: 'Water', value: 7 });
    expect(streams.get(counterId(2))!.rows[0]!.value).toMatchObject({ archived: true });
    expect(await sync.redis.client.hget(redisKeys.snaps(space), counterId(3))).toBeNull();
  });

  it('fold at most a budget of events per request; a page is asked again until it is whole', async () => {
    const server: RunningServer = await startTestServer(sync.redis.url, {
      snapshotFoldBudget: 40,
    });
    try {
      const { space, token } = await createSpace(server.url);
      const long = streamOf();
      const short = streamOf();
      const kinds = ['Created', ...Array.from({ length: 149 }, () => 'Incremented' as const)];
      // Straight into Redis, as a space that grew with no page read since (and no background
      // fold: the server folds on push only past every 100 events).
      expect(
        (await push(server.url, space, token, pushBody(short, 0, events(short, 0, ['Created']))))
          .status,
      ).toBe(200);
      expect(
        (await push(server.url, space, token, pushBody(long, 0, events(long, 0, ['Created']))))
          .status,
      ).toBe(200);
      const rest = events(long, 1, kinds.slice(1) as 'Incremented'[]);
      await sync.redis.client.rpush(
        redisKeys.stream(space, long),
        ...rest.map((event) => serializeEvent(event as Envelope)),
      );
      const { streams, requests } = await allSnapshots(server.url, space, token);
      // 151 events to fold, 40 a request: the page is read at least four times.
      expect(requests).toBeGreaterThanOrEqual(4);
      expect(streams.get(long)).toMatchObject({ version: 150, id: rest.at(-1)!.id });
      expect(streams.get(long)!.rows[0]!.value).toMatchObject({ value: 149 });
      expect(streams.get(short)).toMatchObject({ version: 1 });
    } finally {
      await server.close();
    }
  });

  it('are kept up to date in the background as streams grow, so a join folds little', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    let version = 0;
    for (let i = 0; i < 5; i++) {
      const batch = events(
        stream,
        version,
        version === 0
          ? ['Created', ...Array.from({ length: 49 }, () => 'Incremented' as const)]
          : Array.from({ length: 50 }, () => 'Incremented' as const),
      );
      expect((await push(sync.url, space, token, pushBody(stream, version, batch))).status).toBe(
        200,
      );
      version += 50;
    }
    // Crossing 100 and 200 events folded it in the background, with no page read.
    const stored = await waitFor(async () => {
      const raw = await sync.redis.client.hget(redisKeys.snaps(space), stream);
      const snapshot = raw && raw !== '0' ? (JSON.parse(raw) as StreamSnapshot) : undefined;
      return snapshot && snapshot.version >= 200 ? snapshot : undefined;
    }, 'the background fold');
    expect(stored.rows[0]!.value).toMatchObject({ value: stored.version - 1 });
    const { streams } = await allSnapshots(sync.url, space, token);
    expect(streams.get(stream)).toMatchObject({ version: 250 });

    // An instance that never saw the stream folds it from Redis when a push passes 300.
    const other = await startTestServer(sync.redis.url);
    try {
      const more = events(
        stream,
        250,
        Array.from({ length: 60 }, () => 'Incremented' as const),
      );
      expect((await push(other.url, space, token, pushBody(stream, 250, more))).status).toBe(200);
      const refolded = await waitFor(async () => {
        const raw = await sync.redis.client.hget(redisKeys.snaps(space), stream);
        const snapshot = raw && raw !== '0' ? (JSON.parse(raw) as StreamSnapshot) : undefined;
        return snapshot && snapshot.version === 310 ? snapshot : undefined;
      }, 'the other instance to fold the stream');
      expect(refolded.rows[0]!.value).toMatchObject({ value: 309 });
      expect(refolded.id).toBe(more.at(-1)!.id);
    } finally {
      await other.close();
    }
  });

  it('fold a push onto the snapshot in memory only when it ends with the event the push names', async () => {
    // Redis lost an instance's last writes in a failover and another device wrote other events
    // at those versions: the snapshot that instance holds in memory is of events no longer
    // there, and must not be folded on.
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const withId = (expectedVersion: number, expectedId: string, batch: readonly unknown[]) => ({
      streams: [{ stream, expectedVersion, expectedId, events: batch }],
    });
    const first = events(stream, 0, [
      'Created',
      ...Array.from({ length: 99 }, () => 'Incremented' as const),
    ]);
    expect((await push(sync.url, space, token, pushBody(stream, 0, first))).status).toBe(200);
    const snapshotAt = async (version: number) =>
      waitFor(async () => {
        const raw = await sync.redis.client.hget(redisKeys.snaps(space), stream);
        const snapshot = raw && raw !== '0' ? (JSON.parse(raw) as StreamSnapshot) : undefined;
        return snapshot?.version === version ? snapshot : undefined;
      }, `the snapshot at ${version}`);
    // Folded from the push in memory: 99 increments.
    expect((await snapshotAt(100)).rows[0]!.value).toMatchObject({ value: 99 });
    // The failover: the list loses its last two events, and the snapshot written after them.
    await sync.redis.client.ltrim(redisKeys.stream(space, stream), 0, 97);
    await sync.redis.client.hset(redisKeys.snaps(space), stream, '0');
    // Another device, through another instance, writes two decrements there instead.
    const theirs = events(stream, 98, ['Decremented', 'Decremented']);
    const other = await startTestServer(sync.redis.url);
    try {
      expect((await push(other.url, space, token, withId(98, first[97]!.id, theirs))).status).toBe(
        200,
      );
      expect((await snapshotAt(100)).rows[0]!.value).toMatchObject({ value: 95 });
    } finally {
      await other.close();
    }
    // The first instance, whose memory holds the lost events, takes the next 100.
    const next = events(
      stream,
      100,
      Array.from({ length: 100 }, () => 'Incremented' as const),
    );
    expect((await push(sync.url, space, token, withId(100, theirs[1]!.id, next))).status).toBe(200);
    const folded = await snapshotAt(200);
    expect(folded.rows[0]!.value).toMatchObject({ value: 195 });
    expect(folded.id).toBe(next.at(-1)!.id);
  });

  it('fold again what was stored broken, and write it back whole', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const sent = events(stream, 0, ['Created', 'Incremented', 'Incremented']);
    expect((await push(sync.url, space, token, pushBody(stream, 0, sent))).status).toBe(200);
    // Well-formed, but of other events than the list's (what a lost write could leave).
    const otherEvents = events(stream, 0, ['Created', 'Incremented', 'Incremented']).map((e, i) =>
      i === 0 ? e : { ...e, data: { amount: 50 } },
    );
    const foreign = foldStream(models, stream, undefined, otherEvents);
    for (const broken of [
      '{"version":3',
      JSON.stringify({ stream, version: 3, id: 'x' }),
      JSON.stringify(foreign),
    ]) {
      await sync.redis.client.hset(redisKeys.snaps(space), stream, broken);
      const { streams } = await allSnapshots(sync.url, space, token);
      expect(streams.get(stream)).toMatchObject({ version: 3, id: sent[2]!.id });
      expect(streams.get(stream)!.rows[0]!.value).toMatchObject({ value: 2 });
      const rewritten = await sync.redis.client.hget(redisKeys.snaps(space), stream);
      expect(JSON.parse(rewritten!)).toEqual(streams.get(stream));
    }
  });

  it('are refused with 409 for a space that held events before streams were indexed', async () => {
    const { space, token } = await createSpace(sync.url);
    // What a space written by an older server holds: a stream and its feed entry, no index.
    const old = streamOf();
    const [created] = events(old, 0, ['Created']);
    const json = serializeEvent(created as Envelope);
    await sync.redis.client.rpush(redisKeys.stream(space, old), json);
    await sync.redis.client.xadd(redisKeys.feed(space), '*', 'e', json);
    const stream = streamOf();
    expect(
      (await push(sync.url, space, token, pushBody(stream, 0, events(stream, 0, ['Created']))))
        .status,
    ).toBe(200);
    const answer = await fetch(`${sync.url}/api/spaces/${space}/snapshots`, {
      headers: auth(token),
    });
    expect(answer.status).toBe(409);
    const body = errorBodySchema.parse(await answer.json());
    expect(body.error.message).toMatch(/feed from the beginning/);
    // The feed still has everything.
    const feed = await fetch(`${sync.url}/api/spaces/${space}/events?after=0`, {
      headers: auth(token),
    });
    expect(((await feed.json()) as { entries: unknown[] }).entries).toHaveLength(2);
  });

  it('are refused with 409 once an older server wrote to the space (a rolling deploy)', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    expect(
      (await push(sync.url, space, token, pushBody(stream, 0, events(stream, 0, ['Created']))))
        .status,
    ).toBe(200);
    const read = () => fetch(`${sync.url}/api/spaces/${space}/snapshots`, { headers: auth(token) });
    expect((await read()).status).toBe(200);
    // An instance of the build before this index appends a new stream: list and feed, no index.
    const old = streamOf();
    const json = serializeEvent(events(old, 0, ['Created'])[0] as Envelope);
    await sync.redis.client.rpush(redisKeys.stream(space, old), json);
    await sync.redis.client.xadd(redisKeys.feed(space), '*', 'e', json);
    const refused = await read();
    expect(refused.status).toBe(409);
    expect(errorBodySchema.parse(await refused.json()).error.message).toMatch(/older server/);
  });

  it('answer an empty space with no streams, and bad pages, tokens and methods in words, changing nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const empty = await fetch(`${sync.url}/api/spaces/${space}/snapshots`, {
      headers: auth(token),
    });
    expect(snapshotPageSchema.parse(await empty.json())).toEqual({
      cursor: '0',
      streams: [],
      histories: [],
    });
    // Everything the space holds but its request count (rate limits count refusals too).
    const held = async () => {
      const keys = (await sync.redis.client.keys(`tally:{${space}}:*`))
        .filter((key) => !key.endsWith(':rate'))
        .sort();
      return Promise.all(keys.map(async (key) => [key, await sync.redis.client.dump(key)]));
    };
    const before = await held();
    for (const page of ['-1', 'abc', '01', '1.5', '18446744073709551616', '9'.repeat(21), ''])
      expect(
        (
          await fetch(
            `${sync.url}/api/spaces/${space}/snapshots?page=${encodeURIComponent(page)}`,
            {
              headers: auth(token),
            },
          )
        ).status,
        page,
      ).toBe(400);
    expect(
      (await fetch(`${sync.url}/api/spaces/${space}/snapshots`, { headers: auth('nope') })).status,
    ).toBe(401);
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const answer = await fetch(`${sync.url}/api/spaces/${space}/snapshots`, {
        method,
        headers: auth(token),
      });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.get('Allow')).toBe('GET');
    }
    expect(await held()).toEqual(before);
  });
});

describe('a stream’s history below a snapshot', () => {
  it('is read a page at a time, to its end; a deleted stream is 404; bad input 400, changing nothing', async () => {
    const { space, token } = await createSpace(sync.url);
    const stream = streamOf();
    const all = events(stream, 0, [
      'Created',
      ...Array.from({ length: 2_499 }, () => 'Incremented' as const),
    ]);
    await sync.redis.client.rpush(
      redisKeys.stream(space, stream),
      ...all.map((event) => serializeEvent(event as Envelope)),
    );
    const read = async (query: string) => {
      const answer = await fetch(
        `${sync.url}/api/spaces/${space}/streams/${stream}/events${query}`,
        { headers: auth(token) },
      );
      return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    };
    const seen: unknown[] = [];
    let after = 0;
    let pages = 0;
    for (;;) {
      const { status, body } = await read(`?after=${after}`);
      expect(status).toBe(200);
      const page = streamEventsResponseSchema.parse(body);
      expect(page.version).toBe(2_500);
      seen.push(...page.events);
      after += page.events.length;
      pages++;
      if (!page.more) break;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
    expect(streamEventsResponseSchema.parse((await read('?after=2400&limit=7')).body)).toEqual({
      events: all.slice(2_400, 2_407),
      version: 2_500,
      more: true,
    });
    expect((await read('?after=2500')).body).toEqual({ events: [], version: 2_500, more: false });
    expect((await read('?after=1000000000')).body).toMatchObject({ events: [], more: false });
    const before = await sync.redis.client.dump(redisKeys.stream(space, stream));
    for (const query of [
      '?after=-1',
      '?after=01',
      '?after=1.5',
      '?after=1000000001',
      '?after=99999999999999999999',
      '?limit=0',
      '?limit=1001',
      '?limit=ten',
    ])
      expect((await read(query)).status, query).toBe(400);
    const never = await fetch(`${sync.url}/api/spaces/${space}/streams/counter-never/events`, {
      headers: auth(token),
    });
    expect(await never.json()).toEqual({ events: [], version: 0, more: false });
    const badId = await fetch(`${sync.url}/api/spaces/${space}/streams/Not%20a%20stream/events`, {
      headers: auth(token),
    });
    expect(badId.status).toBe(400);
    for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'])
      expect(
        (
          await fetch(`${sync.url}/api/spaces/${space}/streams/${stream}/events`, {
            method,
            headers: auth(token),
          })
        ).status,
        method,
      ).toBe(405);
    expect(await sync.redis.client.dump(redisKeys.stream(space, stream))).toEqual(before);

    // Deleted forever: its history is gone for everyone.
    const archived = streamOf();
    expect(
      (
        await push(
          sync.url,
          space,
          token,
          pushBody(archived, 0, events(archived, 0, ['Created', 'Archived'])),
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await fetch(`${sync.url}/api/spaces/${space}/streams/${archived}`, {
          method: 'DELETE',
          headers: auth(token),
        })
      ).status,
    ).toBe(204);
    const gone = await fetch(`${sync.url}/api/spaces/${space}/streams/${archived}/events`, {
      headers: auth(token),
    });
    expect(gone.status).toBe(404);
    expect(errorBodySchema.parse(await gone.json()).error.message).toMatch(/deleted forever/);
  });
});
