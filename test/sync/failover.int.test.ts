import { describe, expect, it } from 'vitest';
import { redisKeys } from '../../server/redis-store.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { converged, deviceFixture, inviteOf, serverStreams, synced } from '../helpers/sync.ts';
import { syncServerFixture } from '../helpers/sync-server.ts';
import { waitFor } from '../server/fixtures.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';

/**
 * Issue 16, item 4: a failover promotes a replica that lacks the last writes, so the server
 * forgets events it had acked and delivered. Losing them is done here the way Redis loses them:
 * the last entries of the feed, their stream lists' tails and their id index entries are gone,
 * everything before them is intact.
 */
const sync = syncServerFixture();
const device = deviceFixture();

/** The space's last `count` writes are lost. Returns the ids lost. */
async function loseLastWrites(space: string, count: number): Promise<string[]> {
  const newest = (await sync.redis.client.xrevrange(
    redisKeys.feed(space),
    '+',
    '-',
    'COUNT',
    count,
  )) as [string, string[]][];
  const lost: string[] = [];
  for (const [entry, fields] of newest) {
    const event = JSON.parse(fields[1]!) as { id: string; stream: string };
    // Newest first: each is the tail of its stream's list.
    const tail = await sync.redis.client.rpop(redisKeys.stream(space, event.stream));
    expect(JSON.parse(tail!).id).toBe(event.id);
    await sync.redis.client.xdel(redisKeys.feed(space), entry);
    await sync.redis.client.hdel(redisKeys.ids(space), event.id);
    lost.push(event.id);
  }
  return lost;
}

const idsOf = (streams: Record<string, unknown[]>, stream: string) =>
  (streams[stream] as { id: string }[]).map((event) => event.id);

describe('failover without loss', () => {
  it('an acked event the server lost before the device saw it come back is pushed again', async () => {
    let feedOpen = true;
    const a = await device({
      verifyMs: 200,
      // The live feed connects but delivers nothing while `feedOpen` is false.
      fetch: async (input, init) => {
        if (String(input).includes('/live') && !feedOpen)
          return new Promise<Response>((_, reject) =>
            init?.signal?.addEventListener('abort', () => reject(new TypeError('aborted'))),
          );
        return fetch(input, init);
      },
    });
    const id = counterId(1);
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await synced(a);
    feedOpen = false;
    // Reconnect so that the feed is the silent one.
    a.sync.setOnline(false);
    a.sync.setOnline(true);
    await a.engine.execute(id, { type: 'create', name: 'Water' });
    await a.engine.execute(id, { type: 'increment', amount: 2 });
    await synced(a);
    const before = await serverStreams(sync.redis, space);
    expect(before[id]).toHaveLength(2);
    const lost = await loseLastWrites(space, 2);
    expect((await serverStreams(sync.redis, space))[id]).toBeUndefined();

    // Never seen back in the feed: given back with the same ids and versions.
    await waitFor(
      async () => (await serverStreams(sync.redis, space))[id]?.length === 2,
      'the lost events to be given back',
    );
    expect(idsOf(await serverStreams(sync.redis, space), id)).toEqual(lost.reverse());
    feedOpen = true;
    const b = await device();
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    const streams = await converged([a, b], sync.redis, space);
    expect(streams).toEqual(before);
    expect((await listCounters(b.engine)).find((row) => row.id === id)?.value).toBe(2);
  });

  it('when the feed went back, every device gives back what it saw after it; a new device gets all', async () => {
    const a = await device();
    const b = await device();
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    const [x, y] = [counterId(2), counterId(3)];
    await a.engine.execute(x, { type: 'create', name: 'Pages' });
    await b.engine.execute(y, { type: 'create', name: 'Push-ups' });
    for (let i = 0; i < 3; i++) {
      await a.engine.execute(x, { type: 'increment' });
      await b.engine.execute(y, { type: 'increment' });
    }
    const before = await converged([a, b], sync.redis, space);
    // Both devices saw every event (their own echoed, the other's delivered): then Redis loses
    // the last three writes of the space, of both counters.
    await loseLastWrites(space, 3);
    const shrunk = await serverStreams(sync.redis, space);
    expect(shrunk[x]!.length + shrunk[y]!.length).toBe(5);

    // The reconnect after a failover: each device catches up and finds the feed behind it.
    for (const d of [a, b]) {
      d.sync.setOnline(false);
      d.sync.setOnline(true);
    }
    const after = await converged([a, b], sync.redis, space);
    expect(after).toEqual(before);
    // Nothing doubled: every id once in the feed as well.
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    const ids = feed.map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(8);

    const c = await device();
    await c.sync.joinSpace(sync.url, inviteOf((await a.sync.pairDevice()).pairingLink));
    await converged([a, b, c], sync.redis, space);
    const values = Object.fromEntries(
      (await listCounters(c.engine)).map((row) => [row.name, row.value]),
    );
    expect(values).toEqual({ Pages: 3, 'Push-ups': 3 });
  });

  it('when the feed went back and another device wrote since, a device that saw the lost events gives them back', async () => {
    // Acked events are never given back for being overdue here: only the catch-up can find this.
    const a = await device({ verifyMs: 600_000 });
    let feedOpen = true;
    let hung = 0;
    const b = await device({
      verifyMs: 600_000,
      // b's live feed connects but is never taken while `feedOpen` is false, so the server has
      // no live stream of b's to end: a's catch-up alone can find out.
      fetch: async (input, init) => {
        if (String(input).includes('/live') && !feedOpen) {
          hung++;
          return new Promise<Response>((_, reject) =>
            init?.signal?.addEventListener('abort', () => reject(new TypeError('aborted'))),
          );
        }
        return fetch(input, init);
      },
    });
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    const [x, y] = [counterId(5), counterId(6)];
    await a.engine.execute(y, { type: 'create', name: 'Laps' });
    await b.engine.execute(x, { type: 'create', name: 'Cups' });
    await b.engine.execute(x, { type: 'increment' });
    await b.engine.execute(x, { type: 'increment' });
    // a saw b's three events in its feed (it holds them, and made none of them).
    const before = await converged([a, b], sync.redis, space);
    feedOpen = false;
    b.sync.setOnline(false);
    b.sync.setOnline(true);
    // b caught up and asked for its live feed again (the one that is never taken).
    await waitFor(() => hung === 1, 'b to reconnect');
    await synced(b);
    a.sync.setOnline(false);
    // Redis loses b's two increments; then b writes to another stream, so the feed's head is
    // past a's cursor again (a new entry's id comes after every one before the failover).
    const lost = await loseLastWrites(space, 2);
    await b.engine.execute(y, { type: 'increment' });
    await synced(b);
    const head = (
      await sync.redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1)
    )[0]!;
    expect((JSON.parse(head[1][1]!) as { stream: string }).stream).toBe(y);
    expect((await serverStreams(sync.redis, space))[x]).toHaveLength(1);

    // a catches up from the entry the feed lost, and gives back what it saw after it.
    a.sync.setOnline(true);
    const after = await converged([a, b], sync.redis, space, 15_000);
    expect(after[x]).toEqual(before[x]);
    expect(idsOf(after, x).slice(1)).toEqual(lost.reverse());
    expect(after[y]).toHaveLength(2);
    // Nothing doubled: every id once in the feed as well.
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    const ids = feed.map(([, fields]) => (JSON.parse(fields[1]!) as { id: string }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(5);
    for (const d of [a, b])
      expect((await listCounters(d.engine)).map(({ name, value }) => [name, value])).toEqual(
        expect.arrayContaining([
          ['Cups', 2],
          ['Laps', 1],
        ]),
      );
  });

  it('a cursor swept out with a stream deleted forever is gone from the feed once: nothing is brought back', async () => {
    let wentBack = 0;
    const a = await device();
    const b = await device({
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).includes('/events?') && response.ok) {
          const page = (await response.clone().json()) as { wentBack?: true };
          if (page.wentBack) wentBack++;
        }
        return response;
      },
    });
    const { space, pairingLink } = await a.sync.startSync(sync.url);
    await b.sync.joinSpace(sync.url, inviteOf(pairingLink));
    const [tea, water] = [counterId(7), counterId(8)];
    await a.engine.execute(tea, { type: 'create', name: 'Tea' });
    await a.engine.execute(water, [
      { type: 'create', name: 'Water' },
      { type: 'increment', amount: 3 },
    ]);
    await a.engine.execute(water, { type: 'archive' });
    await converged([a, b], sync.redis, space);
    // b's cursor is Water's last entry, which the deletion sweeps out of the feed.
    const [newest] = await sync.redis.client.xrevrange(redisKeys.feed(space), '+', '-', 'COUNT', 1);
    const archived = newest![0];
    await waitFor(
      async () => (await new IndexedDBSyncStorage(b.engine).readFeedCursor(space)) === archived,
      'b to store its cursor at Water being archived',
    );
    b.sync.setOnline(false);
    await a.sync.deleteStream(water).then(() => a.engine.forget(water));
    expect(await sync.redis.client.xrange(redisKeys.feed(space), archived, archived)).toEqual([]);

    b.sync.setOnline(true);
    const streams = await converged([a, b], sync.redis, space);
    expect(Object.keys(streams)).toEqual([tea]);
    await synced(b);
    expect(wentBack).toBe(1);
    expect(await sync.redis.client.hexists(redisKeys.deleted(space), water)).toBe(1);
    // The feed holds Water's tombstone alone: what b gave back of it was answered with it.
    const feed = await sync.redis.client.xrange(redisKeys.feed(space), '-', '+');
    const waters = feed
      .map(([, fields]) => JSON.parse(fields[1]!) as { stream: string; type: string })
      .filter((event) => event.stream === water);
    expect(waters.map((event) => event.type)).toEqual(['Deleted']);
    expect(b.sync.current().rejected).toEqual([]);
  });

  it('a push that finds the server behind its confirmed head gives back the rest first', async () => {
    const a = await device();
    const { space } = await a.sync.startSync(sync.url);
    const id = counterId(4);
    await a.engine.execute(id, { type: 'create', name: 'Steps' });
    await a.engine.execute(id, { type: 'increment' });
    const before = await converged([a], sync.redis, space);
    await loseLastWrites(space, 1);
    // The next command's push expects version 2; the server holds 1.
    await a.engine.execute(id, { type: 'increment' });
    const streams = await converged([a], sync.redis, space);
    expect(idsOf(streams, id).slice(0, 2)).toEqual(idsOf(before, id));
    expect(streams[id]).toHaveLength(3);
    expect((await listCounters(a.engine)).find((row) => row.id === id)?.value).toBe(2);
  });
});
