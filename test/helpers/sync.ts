import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import type { StoredEvent } from '../../core/event-store.ts';
import type { EventEnvelope } from '../../core/envelope.ts';
import { models } from '../../core/models/index.ts';
import { foldsToBase, readableBase } from '../../worker/stream-bases.ts';
import { redisKeys } from '../../server/redis-store.ts';
import type { Engine } from '../../worker/engine.ts';
import { SyncManager, type SyncManagerOptions } from '../../worker/sync-manager.ts';
import { IndexedDBSyncStorage } from '../../worker/sync-storage.ts';
import type { TestRedis } from './redis-server.ts';
import { openEngine } from './engine.ts';
import { secret, waitFor } from '../server/fixtures.ts';

/** A device: an engine on its own fake-indexeddb database, and its sync manager. */
export type Device = {
  readonly name: string;
  readonly engine: Engine;
  readonly sync: SyncManager;
  close(): Promise<void>;
};

/** Fast retries for tests: failures back off from 5 ms up to 200 ms. */
export const testSyncOptions: SyncManagerOptions = {
  backoff: { baseMs: 5, maxMs: 200 },
  pushDelayMs: 2,
};

let devices = 0;

export async function openDevice(options: SyncManagerOptions = {}): Promise<Device> {
  const name = `device-sim${++devices}`;
  const engine = await openEngine({ device: name });
  return deviceOn(engine, new IndexedDBSyncStorage(engine), options);
}

/**
 * A device on an engine and a storage over it, its sync resumed: what `openDevice` makes, for
 * tests that prepare the engine or wrap the storage first.
 */
export async function deviceOn(
  engine: Engine,
  storage: IndexedDBSyncStorage,
  options: SyncManagerOptions = {},
): Promise<Device> {
  const sync = new SyncManager(storage, { ...testSyncOptions, ...options });
  await sync.resume();
  return {
    name: engine.device,
    engine,
    sync,
    async close() {
      await sync.stop();
      await engine.stop();
    },
  };
}

/**
 * Opens devices for a test file and closes every one after each test (registers `afterEach`):
 * call it at the top of the file, then `await device()` inside tests.
 */
export function deviceFixture(): (options?: SyncManagerOptions) => Promise<Device> {
  const opened: Device[] = [];
  afterEach(async () => {
    for (const device of opened.splice(0)) await device.close();
  });
  return async (options) => {
    const device = await openDevice(options);
    opened.push(device);
    return device;
  };
}

/** The invite a pairing link carries (`…/#pair=<invite>`). */
export const inviteOf = (link: string): string => decodeURIComponent(link.split('#pair=')[1]!);

/** What a stream holds, as comparable data (ids included: the same event is the same id). */
const plain = ({ id, stream, version, type, data, meta }: EventEnvelope) => ({
  id,
  stream,
  version,
  type,
  data,
  command: meta.command,
});

export async function streamsOf(engine: Engine): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const event of (await engine.readAfter(0, 1_000_000)) as StoredEvent<CounterEvent>[])
    (out[event.stream] ??= []).push(plain(event));
  for (const list of Object.values(out))
    (list as { version: number }[]).sort((a, b) => a.version - b.version);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Every stream of a space as Redis holds it, decoded as a device decodes it. */
export async function serverEnvelopes(
  redis: TestRedis,
  space: string,
): Promise<Record<string, EventEnvelope[]>> {
  const prefix = redisKeys.stream(space, '');
  const keys = (await redis.client.keys(`${prefix}*`)).sort();
  const out: Record<string, EventEnvelope[]> = {};
  for (const key of keys)
    out[key.slice(prefix.length)] = (await redis.client.lrange(key, 0, -1)).map(
      // In today's shape, as a device holds it (an older server may keep an older schema).
      (json) => models.decode(JSON.parse(json)) as EventEnvelope,
    );
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Every stream of a space as Redis holds it. */
export async function serverStreams(
  redis: TestRedis,
  space: string,
): Promise<Record<string, unknown[]>> {
  const streams = await serverEnvelopes(redis, space);
  return Object.fromEntries(
    Object.entries(streams).map(([stream, events]) => [stream, events.map(plain)]),
  );
}

/**
 * What a device holds, as the server's streams would show it: a stream joined from a snapshot
 * (no events below its base here) is completed with the server's events below the base only
 * when the base is exactly them (the id at its version, and its state and rows their fold);
 * otherwise it shows a line saying what does not match, so the comparison fails.
 */
export async function deviceStreams(
  engine: Engine,
  server: Record<string, EventEnvelope[]>,
): Promise<Record<string, unknown[]>> {
  const held = await streamsOf(engine);
  for (const base of await engine.db.getAll('bases')) {
    const below = (server[base.stream] ?? []).slice(0, base.version);
    // The device's own check of a history against its base (the model's fold, state and rows).
    const matches = readableBase(engine.models, base) && foldsToBase(engine.models, base, below);
    held[base.stream] = [
      ...(matches ? below.map(plain) : [{ base: base.version, matches: false }]),
      ...(held[base.stream] ?? []),
    ];
  }
  return Object.fromEntries(Object.entries(held).sort(([a], [b]) => a.localeCompare(b)));
}

/** Resolves once the device has nothing pending and follows the live feed. */
export const synced = (device: Device, timeoutMs = 20_000) =>
  waitFor(
    () => device.sync.current().state === 'synced' && device.sync.current().pending === 0,
    `${device.name} to be synced`,
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message} Status: ${JSON.stringify(device.sync.current())}`, {
      cause: error,
    });
  });

/** Resolves once every device holds exactly the server's streams. */
export async function converged(
  all: readonly Device[],
  redis: TestRedis,
  space: string,
  timeoutMs = 30_000,
): Promise<Record<string, unknown[]>> {
  let last = '';
  try {
    return await waitFor(
      async () => {
        const full = await serverEnvelopes(redis, space);
        const server = Object.fromEntries(
          Object.entries(full).map(([stream, events]) => [stream, events.map(plain)]),
        );
        const expected = JSON.stringify(server);
        for (const device of all) {
          const state = device.sync.current();
          if (state.pending !== 0) return false;
          const held = JSON.stringify(await deviceStreams(device.engine, full));
          last = `${device.name}: ${held}\nserver: ${expected}`;
          if (held !== expected) return false;
        }
        return server;
      },
      'every device to hold the server’s streams',
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${last.slice(0, 4_000)}`, { cause: error });
  }
}

const project = fileURLToPath(new URL('../..', import.meta.url));

/** The real server as a child process (`server/main.ts`), so a test can kill -9 it. */
export type ChildServer = {
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
};

export async function childServer(redis: TestRedis, port: number): Promise<ChildServer> {
  const staticDir = mkdtempSync(join(tmpdir(), 'tally-static-'));
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const server: ChildServer = {
    url,
    async start() {
      child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: project,
        env: {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          REDIS_URL: redis.url,
          TALLY_SECRET: secret,
          TALLY_STATIC_DIR: staticDir,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.resume();
      await waitFor(
        async () => {
          try {
            return (await fetch(`${url}/api/health`)).ok;
          } catch {
            return false;
          }
        },
        'the child server to answer',
        20_000,
      );
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await server.start();
  return server;
}
