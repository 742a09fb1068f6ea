import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, ping } from '../../server/local-redis.ts';
import { dumpForSnapshot, type TestRedis } from './redis-server.ts';

export type ClusterNode = {
  readonly port: number;
  /** `host:port`, as REDIS_CLUSTER_NODES lists it. */
  readonly address: string;
  /** Whether the process is running (a killed node is not, until restart()). */
  readonly running: boolean;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the node freezes (no reads, no replication, no cluster bus) and resumes. */
  freeze(frozen: boolean): void;
  /** Starts it again on its port with its folder (nodes.conf and append-only file). */
  restart(): Promise<void>;
};

export type TestCluster = {
  readonly nodes: readonly ClusterNode[];
  /** Seed nodes for a Cluster client: every node's `host:port`. */
  readonly seeds: readonly string[];
  /** A plain client for looking at what the server stored (key → its master, by slot). */
  readonly client: Cluster;
  /** A plain client on one node. The caller disconnects it. */
  node(port: number): Redis;
  /** The ports of the masters now, by CLUSTER NODES as one live node sees it. */
  masters(): Promise<number[]>;
  /**
   * Resolves once every slot is served, every running node agrees the cluster is ok, and every
   * running replica is in sync with its master.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the folders. */
  dispose(): Promise<void>;
};

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Waits for a condition, checking every 50 ms, for at most `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await pause(50);
  }
}

const command = async (port: number, ...args: string[]): Promise<string> => {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return String(await redis.call(args[0] as string, ...args.slice(1)));
  } finally {
    redis.disconnect();
  }
};

/**
 * A real Redis Cluster of `masters` masters with one replica each, on free loopback ports, each
 * node in its own temp folder with an append-only file. `redis-cli --cluster create` assigns the
 * slots and the replicas; this resolves once every node says `cluster_state:ok`.
 */
export async function startRedisCluster(
  options: { masters?: number; appendfsync?: 'always' | 'everysec' } = {},
): Promise<TestCluster> {
  const { masters = 3, appendfsync = 'everysec' } = options;
  const root = mkdtempSync(join(tmpdir(), 'tally-cluster-'));
  const ports: number[] = [];
  while (ports.length < masters * 2) {
    const port = await freePort();
    // The cluster bus listens on port + 10,000: both must be free and distinct.
    if (port > 55_000 || ports.includes(port) || ports.includes(port + 10_000)) continue;
    ports.push(port);
  }

  const nodes = ports.map((port) => clusterNode(root, port, appendfsync));
  await Promise.all(nodes.map((node) => node.restart()));
  const created = spawnSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (created.status !== 0) {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
    throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  }

  const ready = async (timeoutMs = 30_000) => {
    await until(
      async () => {
        for (const node of nodes) {
          if (!node.running) continue;
          const info = await command(node.port, 'CLUSTER', 'INFO').catch(() => '');
          if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384'))
            return false;
          // A replica counts once it has synced with its master (WAIT and failover need that).
          const replication = await command(node.port, 'INFO', 'replication').catch(() => '');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
            return false;
        }
        return true;
      },
      'the cluster to be ok',
      timeoutMs,
    );
  };
  await ready();

  const seeds = ports.map((port) => `127.0.0.1:${port}`);
  const client = new Cluster(
    ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { protocol: 2 }, slotsRefreshTimeout: 2_000 },
  );
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('end', () => reject(new Error('The test cluster client could not connect.')));
  });

  return {
    nodes,
    seeds,
    client,
    node(port) {
      const redis = new Redis({ port, host: '127.0.0.1', protocol: 2 });
      redis.on('error', () => {});
      return redis;
    },
    async masters() {
      for (const node of nodes) {
        if (!node.running) continue;
        const text = await command(node.port, 'CLUSTER', 'NODES').catch(() => '');
        if (!text) continue;
        return text
          .trim()
          .split('\n')
          .map((line) => line.split(' '))
          .filter(([, , flags]) => flags?.includes('master') && !flags.includes('fail'))
          .map(([, address]) => Number(address?.split('@')[0]?.split(':')[1]));
      }
      return [];
    },
    ready,
    async dispose() {
      client.disconnect();
      await Promise.all(nodes.map((node) => node.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function clusterNode(root: string, port: number, appendfsync: string): ClusterNode {
  const dir = join(root, String(port));
  mkdirSync(dir, { recursive: true });
  let child: ChildProcess | undefined;
  let exit: Promise<unknown> = Promise.resolve();
  const node: ClusterNode = {
    port,
    address: `127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGKILL');
      await exit;
    },
    freeze(frozen) {
      child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async restart() {
      await node.kill();
      const started = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          // Failover in about a second, so a test of it stays short.
          '--cluster-node-timeout',
          '1000',
          '--appendonly',
          'yes',
          '--appendfsync',
          appendfsync,
          '--save',
          '',
          // A replica's first sync starts at once, not after Redis's 5 s wait for more replicas.
          '--repl-diskless-sync-delay',
          '0',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      started.stderr?.resume();
      child = started;
      exit = once(started, 'exit');
      await until(() => ping(port, 250), `redis-server on port ${port}`, 10_000);
    },
  };
  return node;
}

/** How a cluster is named where a Redis URL is expected (test fixtures): its seed nodes. */
export const clusterUrlScheme = 'redis-cluster://';

export const clusterUrl = (seeds: readonly string[]) => `${clusterUrlScheme}${seeds.join(',')}`;

/** The seed nodes a `redis-cluster://` URL names, or undefined for a plain Redis URL. */
export const seedsOf = (url: string): string[] | undefined =>
  url.startsWith(clusterUrlScheme) ? url.slice(clusterUrlScheme.length).split(',') : undefined;

/**
 * A test file's view of a cluster another file (or the global setup) started and owns: what
 * `TestRedis` offers on one node, over the Cluster. `client` is a `Cluster`: commands on keys go
 * to their slot's master; `KEYS` of a hash-tagged pattern goes to that tag's master (so the
 * helpers that list a space's streams work unchanged). The cluster cannot be stopped from here.
 */
export async function clusterTestRedis(seeds: readonly string[]): Promise<TestRedis> {
  const client = new Cluster(
    seeds.map((seed) => ({
      host: seed.split(':')[0] ?? '127.0.0.1',
      port: Number(seed.split(':')[1]),
    })),
    { redisOptions: { protocol: 2 }, slotsRefreshTimeout: 2_000 },
  );
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('end', () => reject(new Error('The test cluster client could not connect.')));
  });
  const masterOf = async (key: string): Promise<Redis> => {
    const slot = Number(await client.cluster('KEYSLOT', key));
    const [address] = (client.slots[slot] ?? []) as string[];
    const node = client
      .nodes('master')
      .find((n) => `${n.options.host}:${n.options.port}` === address);
    if (!node) throw new Error(`No master known for slot ${slot}.`);
    return node;
  };
  // KEYS is not routed by ioredis; a space's pattern is one slot, so its master has them all.
  const keys = async (pattern: string) => {
    if (!/\{[^}]+\}/.test(pattern)) throw new Error(`KEYS ${pattern} on a cluster names no slot.`);
    return (await masterOf(pattern)).keys(pattern);
  };
  Object.assign(client, { keys });
  const unsupported = (what: string) => () =>
    Promise.reject(new Error(`${what} is not available on the shared test cluster.`));
  const first = seeds[0] ?? '127.0.0.1:0';
  return {
    port: Number(first.split(':')[1]),
    url: clusterUrl(seeds),
    client: client as unknown as Redis,
    stop: unsupported('stop()'),
    kill: unsupported('kill()'),
    restart: unsupported('restart()'),
    async snapshot() {
      const dumps: Record<string, string> = {};
      let size = 0;
      // Keys that expire by themselves (rate windows, live leases, of this file or an earlier one)
      // change with no request at all, so they are left out; the cluster project runs its files
      // one at a time, so nothing else writes meanwhile.
      for (const node of client.nodes('master'))
        for (const key of await node.keys('*')) {
          // -1: a key that stays; -2: gone since KEYS (it expired), ≥ 0: it will expire.
          if ((await node.pttl(key)) !== -1) continue;
          size++;
          dumps[key] = await dumpForSnapshot(node, key);
        }
      const sorted = Object.fromEntries(
        Object.entries(dumps).sort(([a], [b]) => a.localeCompare(b)),
      );
      return { size, dumps: sorted };
    },
    async dispose() {
      client.disconnect();
    },
  };
}

/**
 * The connections whose CLIENT LIST name contains `fragment` (an app's `connectionName`), summed
 * over every node: the one node, or every master and replica of the cluster.
 */
export async function connectionsNamed(redis: TestRedis, fragment: string): Promise<number> {
  const client = redis.client as Redis | Cluster;
  const nodes = client instanceof Cluster ? client.nodes('all') : [client];
  let count = 0;
  for (const node of nodes) {
    const list = String(await node.call('CLIENT', 'LIST'));
    count += list
      .split('\n')
      .filter((line) => / name=\S*/.test(line) && line.includes(fragment)).length;
  }
  return count;
}
