/**
 * `npm run load`: hundreds of simulated devices against the real server and Redis on loopback,
 * for a bounded time. Issue 8, "Load".
 *
 *   node --import tsx scripts/load.ts [--devices 300] [--seconds 60] [--per-space 3]
 *                                      [--interval-ms 1000]
 *
 * Starts redis-server (its own temp folder) and the server as a child process (server/main.ts,
 * so it has a core of its own), puts the devices in spaces of `per-space` devices (the first
 * creates the space, the others join it for a token of their own), and lets every device hold a
 * live feed and push one to three events every `interval-ms`. At the end it checks that every
 * accepted event is in Redis exactly once and that every device's live feed saw every event of
 * its space, and prints push latency (p50/p99), events/s, connections held and errors.
 * Exits 1 on any error or loss. The simulated devices are test/reliability/device.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import {
  createSpaceResponseSchema,
  deviceTokenResponseSchema,
  liveMessageSchema,
} from '../core/protocol.ts';
import { freePort, startLocalRedis } from '../server/local-redis.ts';
import { SimDevice } from '../test/reliability/device.ts';
import { startServerProcess } from '../test/reliability/server-process.ts';
import { addTallies, tallySpace, type Tally } from '../test/reliability/verify.ts';

export type LoadOptions = {
  readonly devices: number;
  readonly seconds: number;
  readonly perSpace: number;
  readonly intervalMs: number;
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
  /** Live feeds open at once: every device's, held the whole run. */
  readonly connectionsHeld: number;
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

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { devices: count, seconds, perSpace, intervalMs, say = () => {} } = options;
  const dir = mkdtempSync(join(tmpdir(), 'tally-load-'));
  const redisServer = await startLocalRedis({ dir: join(dir, 'redis') });
  const redis = new Redis(redisServer.url, { protocol: 2 });
  const server = await startServerProcess({
    port: await freePort(),
    redisUrl: redisServer.url,
    secret,
    // One address creates every space here; a real one creates one or two.
    env: { TALLY_RATE_CREATE_PER_IP: String(count + 10) },
  });
  const { url } = server;
  const errors: string[] = [];
  const groups: { space: string; devices: SimDevice[]; lives: LiveCounter[] }[] = [];

  try {
    say(`load: ${count} devices in spaces of ${perSpace}, ${seconds} s, server at ${url}`);
    for (let made = 0; made < count;) {
      const created = await fetch(`${url}/api/spaces`, { method: 'POST' });
      const { space, token } = createSpaceResponseSchema.parse(await created.json());
      const group = { space, devices: [] as SimDevice[], lives: [] as LiveCounter[] };
      for (let d = 0; d < perSpace && made < count; d++, made++) {
        let mine = token;
        if (d > 0) {
          const joined = await fetch(`${url}/api/spaces/${space}/devices`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}` },
          });
          mine = deviceTokenResponseSchema.parse(await joined.json()).token;
        }
        group.devices.push(new SimDevice(`device-${made}`, () => ({ url, space, token: mine })));
        const live = new LiveCounter();
        await live.open(url, space, mine);
        group.lives.push(live);
      }
      groups.push(group);
    }
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
      await Promise.all(groups.map((g) => tallySpace(redis, g.space, g.devices))),
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
      liveMissed,
      errors,
    };
  } finally {
    for (const group of groups) for (const live of group.lives) live.close();
    await server.stop();
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number.`);
    return value;
  };
  const report = await runLoad({
    devices: arg('devices', 300),
    seconds: arg('seconds', 60),
    perSpace: arg('per-space', 3),
    intervalMs: arg('interval-ms', 1_000),
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
      `push p50 ${report.p50Ms} ms, p99 ${report.p99Ms} ms, ${errors.length} errors, ` +
      `${report.lost} lost, ${report.doubled} doubled, ${report.liveMissed} missed live`,
  );
  process.exit(ok ? 0 : 1);
}
