import { afterAll, beforeAll, inject } from 'vitest';
import type { LocalRedisOptions } from '../../server/local-redis.ts';
import type { RunningServer, ServerOptions } from '../../server/server.ts';
import { startTestServer } from '../server/fixtures.ts';
import { clusterTestRedis } from './redis-cluster.ts';
import { startRedisServer, type TestRedis } from './redis-server.ts';

/**
 * Whether this run's integration files use the shared Redis Cluster (the `cluster` project of
 * vitest.config.ts sets TALLY_TEST_REDIS=cluster) instead of a redis-server of their own.
 */
export const onCluster = process.env['TALLY_TEST_REDIS'] === 'cluster';

export type SyncServerFixture = {
  /**
   * The file's own redis-server (free loopback port, temp folder), or, on the cluster, the shared
   * cluster (its `url` is `redis-cluster://seed,…`, which startTestServer understands).
   */
  readonly redis: TestRedis;
  /** The first server instance; there is none when `instances` is 0. */
  readonly server: RunningServer;
  /** Every instance, all on the one Redis. */
  readonly servers: readonly RunningServer[];
  /** `server.url`. */
  readonly url: string;
};

export type SyncServerFixtureOptions = {
  /** Options of every instance, over startTestServer's quiet defaults. */
  readonly server?: Partial<ServerOptions>;
  /** How many server instances share the Redis. Default 1; 0 for files that start their own. */
  readonly instances?: number;
  readonly appendfsync?: LocalRedisOptions['appendfsync'];
};

/**
 * The Redis + server fixture of an integration test file: registers `beforeAll` (start Redis,
 * then the instances) and `afterAll` (close the instances, then stop Redis and remove its
 * folder). Read its fields inside hooks and tests, once `beforeAll` has run.
 */
export function syncServerFixture(options: SyncServerFixtureOptions = {}): SyncServerFixture {
  const { instances = 1 } = options;
  let redis: TestRedis | undefined;
  let servers: RunningServer[] = [];

  beforeAll(async () => {
    redis = onCluster
      ? await clusterTestRedis(inject('redisCluster'))
      : await startRedisServer(
          options.appendfsync === undefined ? {} : { appendfsync: options.appendfsync },
        );
    const url = redis.url;
    servers = await Promise.all(
      Array.from({ length: instances }, () => startTestServer(url, options.server)),
    );
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await redis?.dispose();
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`syncServerFixture: no ${what} (before beforeAll?).`);
    return value;
  };
  return {
    get redis() {
      return started(redis, 'Redis');
    },
    get server() {
      return started(servers[0], 'server');
    },
    get servers() {
      return servers;
    },
    get url() {
      return started(servers[0], 'server').url;
    },
  };
}
