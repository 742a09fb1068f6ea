/**
 * `npm run load`: hundreds of simulated devices against the real server and Redis on loopback,
 * for a bounded time. Issue 8, "Load".
 *
 *   node --import tsx scripts/load.ts [--devices 300] [--seconds 60] [--per-space 3]
 *                                      [--interval-ms 1000] [--instances 1] [--cluster]
 *                                      [--watchers 0]
 *
 * Starts redis-server (its own temp folder), or with `--cluster` a Redis Cluster of 3 masters and
 * 3 replicas (test/helpers/redis-cluster.ts), and `instances` servers as child processes
 * (server/main.ts, so each has a core of its own). It puts the devices in spaces of `per-space`
 * devices (the first creates the space, the others join it for a token of their own), and lets
 * every device hold a live feed and push one to three events every `interval-ms`; each device
 * pushes to one instance and follows its feed on the next, so every event crosses instances.
 * `watchers` more live-only clients per space, each with a token of its own, follow on the first
 * instance. At the end it checks that every accepted event is in Redis exactly once and that
 * every live feed saw every event of its space, and prints push latency (p50/p99), events/s,
 * connections held, the Redis connections and memory of the first instance, and errors.
 * Exits 1 on any error or loss. The simulated devices are test/reliability/device.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import {
  createSpaceResponseSchema,
  inviteResponseSchema,
  deviceTokenResponseSchema,
  liveMessageSchema,
} from '../core/protocol.ts';
import { freePort, startLocalRedis } from '../server/local-redis.ts';
import { clusterUrl, startRedisCluster } from '../test/helpers/redis-cluster.ts';
import { SimDevice } from '../test/reliability/device.ts';
import { startServerProcess } from '../test/reliability/server-process.ts';
import { addTallies, tallySpace, type Tally } from '../test/reliability/verify.ts';

/**
 * A device token of its own for one more device of `space`: a single-use invite made with a
 * device's token, then joined with, as a person pairing a device does.
 */
async function pairedToken(url: string, space: string, token: string): Promise<string> {
  const made = await fetch(`${url}/api/spaces/${space}/invites`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  });
  const { invite } = inviteResponseSchema.parse(await made.json());
  const joined = await fetch(`${url}/api/spaces/${space}/devices`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${invite}` },
  });
  return deviceTokenResponseSchema.parse(await joined.json()).token;
}

export type LoadOptions = {
  readonly devices: number;
  readonly seconds: number;
  readonly perSpace: number;
  readonly intervalMs: number;
  /** Server instances, each a process of its own. Default 1. */
  readonly instances?: number;
  /** A Redis Cluster (3 masters + 3 replicas) instead of one redis-server. */
  readonly cluster?: boolean;
  /** Live-only clients per space besides the devices, on the first instance. Default 0. */
  readonly watchers?: number;
  /** Progress lines; silent when not given. */
  readonly say?: (line: string) => void;
};

export type LoadReport = Tally & {
  readonly devices: number;
  readonly spaces: number;
  readonly seconds: number;
  readonly pushes: number;
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Live feeds open at once: every device's and watcher's, held the whole run. */
  readonly connectionsHeld: number;
  readonly instances: number;
  /** Redis connections of all instances (every node), before any live feed and with all. */
  readonly redisConnectionsIdle: number;
  readonly redisConnectionsLive: number;
  /** Resident memory of the first instance before any live feed and with all, MiB. */
  readonly rssIdleMiB: number;
  readonly rssLiveMiB: number;
  /** (rssLive − rssIdle) / live feeds on the first instance, KiB. */
  readonly kibPerLiveClient: number;
  /** Events of its space a device's live feed had not seen by the end (must be 0). */
  readonly liveMissed: number;
  readonly errors: readonly string[];
};

const secret = 'a-load-test-secret-that-is-long-enough-0123456789';

/** A live feed that only keeps which event ids it saw, to stay cheap with hundreds of them. */
class LiveCounter {
  readonly seen = new Set<string>();
  ended = false;
  private readonly abort = new AbortController();

  async open(url: string, space: string, token: string): Promise<void> {
    const response = await fetch(`${url}/api/spaces/${space}/live`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: this.abort.signal,
    });
    if (response.status !== 200 || !response.body)
      throw new Error(`live feed: ${response.status} ${await response.text()}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data: '))
              .map((line) => line.slice(6))
              .join('\n');
            if (data && !block.includes('event: ')) {
              for (const entry of liveMessageSchema.parse(JSON.parse(data)))
                this.seen.add(entry.event.id);
            }
          }
        }
      } catch {
        // Aborted by close().
      } finally {
        this.ended = true;
      }
    })();
  }

  close(): void {
    this.abort.abort();
  }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Resident memory of a process, MiB (Linux). */
const rssMiB = (pid: number) => {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round((kib / 1024) * 10) / 10;
};

/** Connections of the instance(s) on every Redis node: the app names them `tally-…`. */
async function tallyConnections(redis: Redis | Cluster): Promise<number> {
  const nodes = redis instanceof Cluster ? redis.nodes('all') : [redis];
  let count = 0;
  for (const node of nodes)
    count += String(await node.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => /name=\S*tally-/.test(line)).length;
  return count;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { devices: count, seconds, perSpace, intervalMs, say = () => {} } = options;
  const { instances = 1, watchers = 0 } = options;
  const dir = mkdtempSync(join(tmpdir(), 'tally-load-'));
  const redisServer = options.cluster
    ? undefined
    : await startLocalRedis({ dir: join(dir, 'redis') });
  const cluster = options.cluster ? await startRedisCluster() : undefined;
  const redis: Redis | Cluster = cluster
    ? cluster.client
    : new Redis(redisServer?.url ?? '', { protocol: 2 });
  const redisUrl = cluster ? clusterUrl(cluster.seeds) : (redisServer?.url ?? '');
  const spaces = Math.ceil(count / perSpace);
  const servers = await Promise.all(
    Array.from({ length: instances }, async () =>
      startServerProcess({
        port: await freePort(),
        redisUrl,
        secret,
        env: {
          // One address creates every space and holds every feed here; a real one holds a few.
          TALLY_RATE_CREATE_PER_IP: String(spaces + 10),
          TALLY_RATE_PER_SPACE: String(100_000),
          TALLY_MAX_LIVE_PER_ADDRESS: String(count + spaces * watchers + 10),
          TALLY_MAX_LIVE_SPACES: String(spaces + 10),
        },
      }),
    ),
  );
  const urls = servers.map((server) => server.url);
  const url = urls[0] ?? '';
  const errors: string[] = [];
  const groups: { space: string; devices: SimDevice[]; lives: LiveCounter[] }[] = [];
  const first = servers[0];
  const redisConnectionsIdle = await tallyConnections(redis);
  const rssIdleMiB = first ? rssMiB(first.pid) : 0;

  try {
    say(
      `load: ${count} devices in spaces of ${perSpace} (+${watchers} watchers each), ${seconds} s, ` +
        `${instances} instance(s) on ${cluster ? 'a Redis Cluster' : 'one redis-server'}`,
    );
    let firstLives = 0;
    for (let made = 0; made < count;) {
      const created = await fetch(`${url}/api/spaces`, { method: 'POST' });
      const { space, token } = createSpaceResponseSchema.parse(await created.json());
      const group = { space, devices: [] as SimDevice[], lives: [] as LiveCounter[] };
      for (let d = 0; d < perSpace && made < count; d++, made++) {
        const mine = d > 0 ? await pairedToken(url, space, token) : token;
        const pushTo = urls[made % urls.length] ?? url;
        const followOn = (made + 1) % urls.length;
        group.devices.push(
          new SimDevice(`device-${made}`, () => ({ url: pushTo, space, token: mine })),
        );
        const live = new LiveCounter();
        await live.open(urls[followOn] ?? url, space, mine);
        if (followOn === 0) firstLives++;
        group.lives.push(live);
      }
      for (let w = 0; w < watchers; w++) {
        // Each watcher a device of its own, paired as any other (a device token mints none).
        const watcher = await pairedToken(url, space, token);
        const live = new LiveCounter();
        await live.open(url, space, watcher);
        firstLives++;
        group.lives.push(live);
      }
      groups.push(group);
      if (groups.length % 200 === 0) say(`load: ${groups.length} spaces ready`);
    }
    const redisConnectionsLive = await tallyConnections(redis);
    const rssLiveMiB = first ? rssMiB(first.pid) : 0;
    const devices = groups.flatMap((group) => group.devices);
    const lives = groups.flatMap((group) => group.lives);
    say(`load: ${lives.length} live feeds open, pushing`);

    const started = performance.now();
    const stopAt = Date.now() + seconds * 1_000;
    await Promise.all(
      devices.map(async (device, index) => {
        // Spread the devices over the interval, so they do not all push in the same instant.
        let next = Date.now() + (((index * intervalMs) / devices.length) % intervalMs);
        for (let i = 0; Date.now() < stopAt; i++) {
          const wait = next - Date.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          if (Date.now() >= stopAt) break;
          next += intervalMs;
          try {
            await device.pushNext(1 + ((index + i) % 3), stopAt + 30_000);
          } catch (error) {
            errors.push(String(error));
            return;
          }
          if (device.retries > 0) {
            errors.push(`${device.name}: a push had to be retried (${device.lastFailure})`);
            return;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1_000;
    const connectionsHeld = lives.filter((live) => !live.ended).length;
    if (connectionsHeld !== lives.length)
      errors.push(`${lives.length - connectionsHeld} live feeds ended during the run`);

    // Every device's feed must see every event of its space; give the last ones time to arrive.
    const missed = () =>
      groups.reduce((sum, { devices: members, lives: feeds }) => {
        const ids = members.flatMap((device) => device.accepted.map((event) => event.id));
        return (
          sum + feeds.reduce((n, feed) => n + ids.filter((id) => !feed.seen.has(id)).length, 0)
        );
      }, 0);
    const deadline = Date.now() + 30_000;
    while (missed() > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const liveMissed = missed();

    const tally = addTallies(
      // A Cluster routes these single-key reads by slot like one node does.
      await Promise.all(groups.map((g) => tallySpace(redis as Redis, g.space, g.devices))),
    );
    const latencies = devices.flatMap((device) => device.latencies).sort((a, b) => a - b);
    return {
      ...tally,
      devices: devices.length,
      spaces: groups.length,
      seconds: round(elapsed),
      pushes: latencies.length,
      eventsPerSecond: round(tally.accepted / elapsed),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies.at(-1) ?? 0),
      connectionsHeld,
      instances,
      redisConnectionsIdle,
      redisConnectionsLive,
      rssIdleMiB,
      rssLiveMiB,
      kibPerLiveClient:
        firstLives === 0 ? 0 : Math.round(((rssLiveMiB - rssIdleMiB) * 1024) / firstLives),
      liveMissed,
      errors,
    };
  } finally {
    for (const group of groups) for (const live of group.lives) live.close();
    await Promise.all(servers.map((server) => server.stop()));
    if (cluster) await cluster.dispose();
    else redis.disconnect();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const arg = (name: string, fallback: number, min = 1) => {
    const at = process.argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be a whole number.`);
    return value;
  };
  const report = await runLoad({
    devices: arg('devices', 300),
    seconds: arg('seconds', 60),
    perSpace: arg('per-space', 3),
    intervalMs: arg('interval-ms', 1_000),
    instances: arg('instances', 1),
    watchers: arg('watchers', 0, 0),
    cluster: process.argv.includes('--cluster'),
    say: (line) => console.log(line),
  });
  const { errors, ...figures } = report;
  console.log(JSON.stringify(figures, null, 2));
  for (const error of errors.slice(0, 20)) console.error(`✗ ${error}`);
  const ok =
    errors.length === 0 &&
    report.lost === 0 &&
    report.doubled === 0 &&
    report.stray === 0 &&
    report.liveMissed === 0;
  console.log(
    `${ok ? '✓' : '✗'} ${report.devices} devices, ${report.connectionsHeld} live connections held, ` +
      `${report.pushes} pushes, ${report.accepted} events (${report.eventsPerSecond}/s), ` +
      `${report.instances} instance(s): ${report.redisConnectionsLive} Redis connections (${report.redisConnectionsIdle} before the feeds), ` +
      `first instance ${report.kibPerLiveClient} KiB per live client, ` +
      `push p50 ${report.p50Ms} ms, p99 ${report.p99Ms} ms, ${errors.length} errors, ` +
      `${report.lost} lost, ${report.doubled} doubled, ${report.liveMissed} missed live`,
  );
  process.exit(ok ? 0 : 1);
}
