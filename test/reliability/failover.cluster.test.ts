import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../server/redis-store.ts';
import type { RunningServer } from '../../server/server.ts';
import { counterId, listCounters } from '../helpers/engine.ts';
import { clusterTestRedis, startRedisCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import type { TestRedis } from '../helpers/redis-server.ts';
import { converged, openDevice, synced, type Device } from '../helpers/sync.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import { startTestServer, waitFor } from '../server/fixtures.ts';

/**
 * Issue 16, item 4: a master killed under load, its replica promoted without its last writes, with
 * the device sync client of worker/ as it is. Each case has a cluster of its own, since it kills a node of it.
 */
let cluster: TestCluster;
let redis: TestRedis;
const servers: RunningServer[] = [];
const devices: Device[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  redis = await clusterTestRedis(cluster.seeds);
});
afterEach(async () => {
  for (const device of devices.splice(0)) await device.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  // The killed master comes back as a replica of the one that replaced it.
  for (const node of cluster.nodes) if (!node.running) await node.restart();
  await cluster.ready(60_000);
});
afterAll(async () => {
  await redis?.dispose();
  await cluster?.dispose();
});

/** The port of the master serving a space's slot now. */
const masterOfSpace = async (space: string): Promise<number> => {
  const slot = Number(await redis.client.cluster('KEYSLOT', redisKeys.feed(space)));
  const ranges = await redis.client.cluster('SLOTS');
  const range = ranges.find(([from, to]) => from <= slot && slot <= to);
  const master = range?.[2];
  if (!master) throw new Error(`No master for slot ${slot}.`);
  return Number(master[1]);
};

/** The ports' node of the replica of the master on `port`. */
async function replicaOf(port: number) {
  const probe = cluster.node(port);
  try {
    const info = await probe.info('replication');
    const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)?.[1]);
    const node = cluster.nodes.find((candidate) => candidate.port === replicaPort);
    if (!node) throw new Error(`No replica of ${port}: ${info}`);
    return node;
  } finally {
    probe.disconnect();
  }
}

/** The ids of the events in a feed, as one node holds it. */
const feedIds = async (node: Redis, feed: string): Promise<string[]> =>
  (await node.xrange(feed, '-', '+')).map(
    ([, fields]) => (JSON.parse(fields[1] ?? '{}') as { id: string }).id,
  );

/**
 * Three devices (one on instance A, two on B) count on two counters; once the space holds 100
 * events its replica is stopped and cut off, 30 more reach the master alone, and the master is
 * SIGKILLed; the replica resumes and takes over without them (`lost`). The devices count on until
 * 100 more are stored, then stop and must converge, the lost events given back.
 */
async function countThroughFailover(waitReplicas: number) {
  // What the instances log of Redis: a failover is an outage and then a recovery.
  const redisStates: string[][] = [[], []];
  const logTo = (states: string[]) => (line: object) => {
    const { event } = line as { event?: string };
    if (event?.startsWith('redis-')) states.push(event);
  };
  const options = { redisWaitReplicas: waitReplicas, rateLimit: false as const };
  const [a, b] = await Promise.all([
    startTestServer(redis.url, { ...options, log: logTo(redisStates[0]!) }),
    startTestServer(redis.url, { ...options, log: logTo(redisStates[1]!) }),
  ]);
  servers.push(a, b);
  const one = await openDevice();
  const two = await openDevice();
  const three = await openDevice();
  devices.push(one, two, three);
  const counters = [counterId(1), counterId(2)];
  for (const [n, id] of counters.entries())
    await one.engine.execute(id, { type: 'create', name: `C${n}` });
  const { space, pairingLink } = await one.sync.startSync(a.url);
  const invite = decodeURIComponent(pairingLink.split('#pair=')[1] ?? '');
  await two.sync.joinSpace(b.url, invite);
  // Invites are single-use: the third device gets a fresh one.
  const again = (await one.sync.pairDevice()).pairingLink;
  await three.sync.joinSpace(b.url, decodeURIComponent(again.split('#pair=')[1] ?? ''));
  for (const device of devices) await synced(device);

  const feed = redisKeys.feed(space);
  const stored = () => redis.client.xlen(feed).catch(() => -1);
  let counting = true;
  let paused = false;
  const increments = new Map<Device, number>(devices.map((device) => [device, 0]));
  const count = async (device: Device, id: string) => {
    while (counting) {
      if (!paused) {
        const result = await device.engine.execute(id, { type: 'increment' });
        if (result.type === 'accepted') increments.set(device, (increments.get(device) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
  };
  const loops = devices.flatMap((device) => counters.map((id) => count(device, id)));

  await waitFor(async () => (await stored()) >= 100, '100 events stored', 30_000);
  const master = await masterOfSpace(space);
  const node = cluster.nodes.find((candidate) => candidate.port === master);
  const replica = await replicaOf(master);
  // A real loss: the replica is stopped and its link cut, so the writes after the cut reach the
  // master alone (acked with WAIT 0, stored and delivered live either way); the master is then
  // killed and the replica, resumed, takes over without them. (Only stopping it loses nothing on
  // loopback: what the master sent waits in the replica's socket and is read on resuming.)
  const onMaster = cluster.node(master);
  let held: string[];
  replica.freeze(true);
  try {
    await onMaster.call('CLIENT', 'KILL', 'TYPE', 'replica');
    const cut = await stored();
    await waitFor(
      async () => (await stored()) >= cut + 30,
      '30 events the replica never gets',
      30_000,
    );
    // Counting stops a moment, until every device has read all the master holds: each lost
    // event is then held by every device, and given back. (One no other device saw could be
    // written over at its version on the new master: a split history, told, not covered here.)
    paused = true;
    await waitFor(
      async () => {
        const [head] = await onMaster.xrevrange(feed, '+', '-', 'COUNT', 1);
        const cursors = await Promise.all(
          devices.map((device) => new IndexedDBSyncStorage(device.engine).readFeedCursor(space)),
        );
        return cursors.every((cursor) => cursor === head?.[0]);
      },
      'every device to have read the master’s feed',
      10_000,
    );
    held = await feedIds(onMaster, feed);
    await node?.kill();
  } finally {
    paused = false;
    replica.freeze(false);
    onMaster.disconnect();
  }
  const killedAt = held.length;
  // What the replica holds once it has read all its master sent (its link is then down), before
  // it is promoted: nothing reaches it in between, its master being dead.
  const onReplica = cluster.node(replica.port);
  let kept: Set<string>;
  try {
    await waitFor(async () => {
      const info = await onReplica.info('replication');
      return info.includes('master_link_status:down') || info.includes('role:master');
    }, 'the replica to find its master gone');
    await onReplica.call('READONLY');
    kept = new Set(await feedIds(onReplica, feed));
  } finally {
    onReplica.disconnect();
  }
  const lost = held.filter((id) => !kept.has(id));
  await waitFor(
    async () =>
      (await cluster.masters()).length === 3 && !(await cluster.masters()).includes(master),
    'a replica to be promoted',
    30_000,
  );
  // The old master comes back as the new one's replica: with WAIT 1, a shard without a replica
  // acks nothing (503) until one is back.
  await node?.restart();
  await cluster.ready(60_000);
  const promotedAt = await waitFor(async () => {
    const held = await stored();
    return held >= 0 && held;
  }, 'the new master to answer');
  await waitFor(
    async () => (await stored()) >= promotedAt + 100,
    '100 events after failover',
    30_000,
  );
  counting = false;
  await Promise.all(loops);

  const made = [...increments.values()].reduce((sum, n) => sum + n, 0);
  return {
    space,
    devices: [one, two, three],
    counters,
    made,
    killedAt,
    promotedAt,
    redisStates,
    lost,
  };
}

/**
 * Waits for the devices and the server to agree (nothing pending anywhere, every device holding
 * exactly the server's streams), once more after one more increment per device, then counts.
 */
async function settle(run: Awaited<ReturnType<typeof countThroughFailover>>) {
  await converged(run.devices, redis, run.space, 60_000);
  for (const device of run.devices)
    await device.engine.execute(run.counters[0] ?? '', { type: 'increment' });
  const made = run.made + run.devices.length;
  const streams = await converged(run.devices, redis, run.space, 60_000);
  const ids = Object.values(streams).flatMap((events) =>
    (events as { id: string }[]).map((event) => event.id),
  );
  const counted = run.counters.reduce((sum, id) => sum + (streams[id]?.length ?? 1) - 1, 0);
  const values = await Promise.all(
    run.devices.map(async (device) =>
      (await listCounters(device.engine)).reduce((sum, row) => sum + row.value, 0),
    ),
  );
  return { made, ids, counted, values };
}

describe('a master killed under load, a replica promoted', () => {
  for (const waitReplicas of [1, 0])
    it(`with TALLY_REDIS_WAIT_REPLICAS=${waitReplicas}: every device converges, nothing lost or doubled`, async () => {
      const run = await countThroughFailover(waitReplicas);
      const { made, ids, counted, values } = await settle(run);
      // Events were lost (the promoted replica lacked them), and given back: all are stored.
      expect(run.lost.length).toBeGreaterThan(0);
      expect(ids).toEqual(expect.arrayContaining(run.lost));
      expect(new Set(ids).size).toBe(ids.length);
      expect(counted).toBe(made);
      expect(values).toEqual(run.devices.map(() => made));
      // Every instance that logged Redis as down logged it up again (the Cluster's 'ready' is
      // not emitted again after a failover).
      for (const states of run.redisStates)
        if (states.includes('redis-down')) expect(states.at(-1)).toBe('redis-up');
      console.info(
        `failover, WAIT ${waitReplicas}: ${made} increments by 3 devices on 2 instances, ${run.killedAt} events when the master was killed, ${run.promotedAt} once the replica answered (${run.lost.length} lost, given back); converged, 0 lost, 0 doubled`,
      );
    });
});
