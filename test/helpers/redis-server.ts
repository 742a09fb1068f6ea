import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  freePort,
  startLocalRedis,
  type LocalRedis,
  type LocalRedisOptions,
} from '../../server/local-redis.ts';

export type TestRedis = {
  readonly port: number;
  readonly url: string;
  /** A plain client for looking at what the server stored. */
  readonly client: Redis;
  /** Stops redis-server; its append-only file stays for restart(). */
  stop(): Promise<void>;
  /** SIGKILLs redis-server, as a crash would: only what reached its append-only file stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  restart(): Promise<void>;
  /** Every key with its DUMP, to prove a request changed nothing at all. */
  snapshot(): Promise<RedisSnapshot>;
  /** Stops it and removes its folder. For afterAll. */
  dispose(): Promise<void>;
};

export type RedisSnapshot = { readonly size: number; readonly dumps: Record<string, string> };

/**
 * What a snapshot keeps of one key. A space's last-seen hash (`tally:{space}:seen`) takes the
 * time of a device's successful requests, at most once a minute: a test of over a minute sees it
 * move with no data changed. Of it, which devices are there is kept, not when they were seen.
 */
export async function dumpForSnapshot(client: Redis, key: string): Promise<string> {
  if (key.endsWith(':seen') && (await client.type(key)) === 'hash')
    return `seen: ${(await client.hkeys(key)).sort().join(',')}`;
  return (await client.dumpBuffer(key))?.toString('hex') ?? '';
}

/**
 * A real redis-server for one test file: a free loopback port, its own temp folder, an
 * append-only file so a restart keeps the data. Resolves once it answers PING. It fsyncs once a
 * second (`everysec`) unless asked for `always`, as the tests about durability do: the others
 * are not about the disk, and an fsync per write doubles their time.
 */
export async function startRedisServer(
  options: Pick<LocalRedisOptions, 'appendfsync'> = {},
): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tally-redis-'));
  const port = await freePort();
  const { appendfsync = 'everysec' } = options;
  const start = () => startLocalRedis({ appendfsync, dir, port });
  let server: LocalRedis | undefined = await start();
  const client = new Redis({ port, host: '127.0.0.1', protocol: 2, lazyConnect: true });
  // The harness's own client reconnects quietly across stop()/restart().
  client.on('error', () => {});
  await client.connect();

  const stop = async () => {
    await server?.stop();
    server = undefined;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    stop,
    async kill() {
      await server?.kill();
      server = undefined;
    },
    async restart() {
      await stop();
      server = await start();
    },
    async snapshot() {
      const keys = (await client.keys('*')).sort();
      const dumps: Record<string, string> = {};
      for (const key of keys) dumps[key] = await dumpForSnapshot(client, key);
      // The keys as KEYS lists them, not DBSIZE: DBSIZE still counts a key whose time ran out
      // until Redis reclaims it, a moment later, which would read as a change.
      return { size: keys.length, dumps };
    },
    async dispose() {
      client.disconnect();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
