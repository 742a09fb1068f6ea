import { join } from 'node:path';
import { RedisMissingError, startLocalRedis, type LocalRedis } from './local-redis.ts';
import { parseClusterNodes, refuseClusterNode, type RedisTarget } from './redis-client.ts';
import type { ServerOptions } from './server.ts';

/**
 * Where `npm start` keeps its data, from the environment:
 *
 *   REDIS_CLUSTER_NODES  host:port,… seed nodes of a Redis Cluster (every instance of a
 *                        deployment lists the same cluster);
 *   REDIS_URL            one Redis node; refused when that node is in cluster mode;
 *   neither              a local redis-server child keeping its data in `<dataDir>/redis`, with
 *                        TALLY_REDIS_APPENDFSYNC `always` (default) or `everysec`; without
 *                        redis-server, the app is served without sync.
 *
 * and the options that go with it: TALLY_REDIS_WAIT_REPLICAS (replicas that must confirm a push
 * before its ack, WAIT; default 0), TALLY_REDIS_WAIT_TIMEOUT_MS (1,000), TALLY_MAX_LIVE_PER_DEVICE
 * and TALLY_MAX_LIVE_PER_ADDRESS (live feeds per device token and per client address on one
 * instance).
 */
export type RedisConfig = {
  readonly options: Pick<
    ServerOptions,
    'redis' | 'redisWaitReplicas' | 'redisWaitTimeoutMs' | 'maxLivePerDevice' | 'maxLivePerAddress'
  >;
  /** The local redis-server child, when one was started; stop it on exit. */
  readonly local?: LocalRedis;
  /** One line for the start-up message: where the data is. */
  readonly where: string;
};

type Env = Readonly<Record<string, string | undefined>>;

const numberFrom = (env: Env, name: string): number | undefined =>
  env[name] === undefined || env[name] === '' ? undefined : Number(env[name]);

/** TALLY_REDIS_APPENDFSYNC: `always` (the default: an ack is on disk) or `everysec`. */
function appendfsync(env: Env): 'always' | 'everysec' {
  const value = env['TALLY_REDIS_APPENDFSYNC'] || 'always';
  if (value !== 'always' && value !== 'everysec')
    throw new Error(`Bad TALLY_REDIS_APPENDFSYNC: ${value} (always or everysec).`);
  return value;
}

export async function redisFromEnv(
  env: Env,
  dataDir: string,
  say: (line: string) => void,
): Promise<RedisConfig> {
  const extra = Object.fromEntries(
    Object.entries({
      redisWaitReplicas: numberFrom(env, 'TALLY_REDIS_WAIT_REPLICAS'),
      redisWaitTimeoutMs: numberFrom(env, 'TALLY_REDIS_WAIT_TIMEOUT_MS'),
      maxLivePerDevice: numberFrom(env, 'TALLY_MAX_LIVE_PER_DEVICE'),
      maxLivePerAddress: numberFrom(env, 'TALLY_MAX_LIVE_PER_ADDRESS'),
    }).filter(([, value]) => value !== undefined),
  );
  const clusterNodes = env['REDIS_CLUSTER_NODES'];
  const url = env['REDIS_URL'];
  if (clusterNodes && url)
    throw new Error('Set REDIS_CLUSTER_NODES or REDIS_URL, not both: they name one database.');
  if (clusterNodes) {
    const target: RedisTarget = { cluster: parseClusterNodes(clusterNodes) };
    return {
      options: { redis: target, ...extra },
      where: `Redis Cluster seeded by ${target.cluster.join(',')}`,
    };
  }
  if (url) {
    await refuseClusterNode(url);
    return { options: { redis: url, ...extra }, where: 'Redis at REDIS_URL' };
  }
  try {
    const local = await startLocalRedis({
      dir: join(dataDir, 'redis'),
      appendfsync: appendfsync(env),
    });
    return {
      options: { redis: local.url, ...extra },
      local,
      where: `Redis on port ${local.port}`,
    };
  } catch (error) {
    if (!(error instanceof RedisMissingError)) throw error;
    // The app still works offline-first without sync, so serve it anyway.
    say(`Tally: ${error.message} Serving the app without sync; the API answers 503.`);
    return { options: { redis: false, ...extra }, where: 'no Redis' };
  }
}
