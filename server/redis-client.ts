import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisState = 'up' | 'down';

/** One Redis node, or a Redis Cluster: the app uses both through the same commands. */
export type RedisConnection = Redis | Cluster;

/** Where the app's data lives: one node by URL, or a Cluster by its seed nodes. */
export type RedisTarget = string | { readonly cluster: readonly string[] };

/**
 * A client that fails fast. While Redis is unreachable a request should get a clear 503 at once,
 * not hang in ioredis's offline queue until the client gives up: so no offline queue, and a
 * command in flight when the connection drops is failed rather than resent (an append the client
 * retries is recognised by its event ids, so failing is always safe). Reconnecting goes on forever
 * in the background, so the server heals by itself when Redis is back.
 */
export const failFastOptions = {
  // RESP2 keeps reply shapes plain arrays whatever ioredis's RESP3 mapping default becomes.
  protocol: 2,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  // A Redis that accepts the connection but never answers (stopped, overloaded) still fails fast.
  commandTimeout: 5_000,
  retryStrategy: (times: number) => Math.min(50 * 2 ** times, 1_000),
} satisfies RedisOptions;

/**
 * The Cluster client. Sharded pub/sub (`shardedSubscribers`) keeps one subscriber connection per
 * master, whatever the number of channels, and moves channels with their slots on failover. The
 * offline queue is off as on one node; a command that meets a failover (`MOVED`, `CLUSTERDOWN`,
 * a closed connection) is retried by ioredis on the new topology within `maxRedirections`.
 */
export const clusterOptions = (connectionName: string): ClusterOptions => ({
  redisOptions: { ...failFastOptions, connectionName },
  enableOfflineQueue: false,
  shardedSubscribers: true,
  scaleReads: 'master',
  slotsRefreshTimeout: 2_000,
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
  clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** times, 1_000),
});

/** `host:port,host:port,…` (REDIS_CLUSTER_NODES) → seed nodes; throws on a malformed entry. */
export function parseClusterNodes(list: string): string[] {
  const nodes = list
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean);
  for (const node of nodes)
    if (!/^[^\s:]+:\d{1,5}$/.test(node))
      throw new Error(`Bad REDIS_CLUSTER_NODES entry: ${node} (host:port).`);
  if (nodes.length === 0) throw new Error('REDIS_CLUSTER_NODES names no node.');
  return nodes;
}

const seed = (node: string) => {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
};

/**
 * `onStateChange` hears each transition once, for the log; without an `error` listener ioredis
 * would print every failed reconnect attempt. `connectionName` names every connection the client
 * makes (CLIENT LIST), so an operator can tell instances apart.
 */
export function createRedisClient(
  target: RedisTarget,
  onStateChange: (state: RedisState, error?: Error) => void = () => {},
  connectionName = 'tally',
): RedisConnection {
  const redis =
    typeof target === 'string'
      ? new Redis(target, { ...failFastOptions, connectionName })
      : new Cluster(target.cluster.map(seed), clusterOptions(connectionName));
  watchRedis(redis, onStateChange);
  return redis;
}

export function watchRedis(
  redis: RedisConnection,
  onStateChange: (state: RedisState, error?: Error) => void,
): void {
  let state: RedisState | undefined;
  const report = (next: RedisState, error?: Error) => {
    if (state === next) return;
    state = next;
    onStateChange(next, error);
  };
  redis.on('ready', () => report('up'));
  redis.on('error', (error: Error) => report('down', error));
  redis.on('close', () => {
    if (state === 'up') report('down');
  });
  // A Cluster stays 'ready' through a failover (a node's error is no new 'ready'): it is up
  // again once it has read the slots anew, with the promoted replica in them.
  if (redis instanceof Cluster)
    redis.on('refresh', () => {
      if (redis.status === 'ready') report('up');
    });
}

export const isCluster = (redis: RedisConnection): redis is Cluster => redis instanceof Cluster;

/** One node's answer to PING within the command timeout. */
const pong = (node: Redis) =>
  node.ping().then(
    (answer) => answer === 'PONG',
    () => false,
  );

export type MasterHealth = { readonly node: string; readonly redis: RedisState };

/**
 * Every master the client knows of, with whether it answers. On one node that is the node; on a
 * Cluster it is the masters of the client's current slot map (a master that failed is listed
 * down until the replica that replaced it is in the map).
 */
export async function mastersHealth(redis: RedisConnection): Promise<MasterHealth[]> {
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  return Promise.all(
    nodes.map(async (node) => ({
      node: `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`,
      redis: (await pong(node)) ? 'up' : 'down',
    })),
  );
}

/**
 * Refuses a `REDIS_URL` that names a node of a Cluster: as one node it would answer `MOVED` for
 * every space whose slot lives elsewhere, while health said `up`. Resolves when the node is not
 * in cluster mode, or cannot be asked (the server then starts and heals when Redis is there).
 */
export async function refuseClusterNode(url: string): Promise<void> {
  const probe = new Redis(url, {
    ...failFastOptions,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  let info: string;
  try {
    await probe.connect();
    info = await probe.info('cluster');
  } catch {
    return;
  } finally {
    probe.disconnect();
  }
  if (/^cluster_enabled:1\b/m.test(info))
    throw new Error(
      `REDIS_URL (${url.replace(/\/\/[^@]*@/, '//…@')}) is a node of a Redis Cluster; ` +
        'list the cluster’s nodes in REDIS_CLUSTER_NODES=host:port,host:port,… instead.',
    );
}
