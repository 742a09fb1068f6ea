import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { seedsOf } from '../helpers/redis-cluster.ts';

const main = fileURLToPath(new URL('../../server/main.ts', import.meta.url));

export type ServerProcess = {
  readonly url: string;
  readonly pid: number;
  /** What it wrote to stderr so far (its last 4,000 characters): what `npm start` says. */
  output(): string;
  /** SIGKILL: requests in flight get no answer, nothing is finished. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, the graceful stop `npm start` does on Ctrl-C. */
  stop(): Promise<void>;
};

type Spawned = { readonly child: ChildProcess; readonly output: () => string };

/** server/main.ts as a child process, its stderr kept. */
function spawnMain(env: Record<string, string | undefined>): Spawned {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main], {
    env,
    // Request logs go to stdout: not read, so not piped (a full pipe would stall the server).
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  return { child, output: () => output };
}

/** The environment of a test server: Redis, secret, API only, then the test's own variables. */
function environment(options: {
  port: number;
  redisUrl: string;
  secret: string;
  env?: Record<string, string>;
}): Record<string, string | undefined> {
  // `redis-cluster://host:port,…` (a test cluster) is given as REDIS_CLUSTER_NODES.
  const seeds = seedsOf(options.redisUrl);
  return {
    ...process.env,
    PORT: String(options.port),
    HOST: '127.0.0.1',
    ...(seeds ? { REDIS_CLUSTER_NODES: seeds.join(',') } : { REDIS_URL: options.redisUrl }),
    TALLY_SECRET: options.secret,
    // API only: no built app is needed here.
    TALLY_STATIC_DIR: '/nonexistent',
    ...options.env,
  };
}

/** Whether `url` answers /api/health 200: over HTTP/2 trusting `ca` when given, else fetch. */
function healthy(url: string, ca: Buffer | undefined): Promise<boolean> {
  if (!ca)
    return fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.status === 200,
      () => false,
    );
  return new Promise((resolve) => {
    const session = connect(url, { ca });
    const done = (answer: boolean) => {
      clearTimeout(timer);
      session.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), 1_000);
    session.on('error', () => done(false));
    const stream = session.request({ ':path': '/api/health' });
    stream.on('response', (headers) => done(headers[':status'] === 200));
    stream.on('error', () => done(false));
  });
}

/**
 * `npm run serve` as a child process (server/main.ts), on a given loopback port so a restart is
 * found at the same address. Resolves once it answers health with Redis up. With `ca`, the
 * server is expected to serve HTTPS (TALLY_TLS_CERT and TALLY_TLS_KEY in `env`) with a
 * certificate `ca` vouches for, and health is asked over HTTP/2.
 */
export async function startServerProcess(options: {
  port: number;
  redisUrl: string;
  secret: string;
  env?: Record<string, string>;
  ca?: Buffer;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const { port, ca, timeoutMs = 20_000 } = options;
  const { child, output } = spawnMain(environment(options));
  const exited = once(child, 'exit').then(() => undefined);
  // Asked on loopback even when HOST is 0.0.0.0: tests stay on this machine.
  const url = `${ca ? 'https' : 'http'}://127.0.0.1:${port}`;

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`The server exited before it answered:\n${output()}`);
    if (await healthy(url, ca)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The server did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 50))]);
  }

  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return {
    url,
    pid: child.pid ?? 0,
    output,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

/**
 * server/main.ts started with a configuration it must refuse: resolves with its exit code and
 * what it said once it exits, or rejects (killing it) if it is still running after `timeoutMs`.
 */
export async function refusedServerProcess(options: {
  port: number;
  redisUrl: string;
  secret: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<{ code: number | null; output: string }> {
  const { timeoutMs = 20_000 } = options;
  const { child, output } = spawnMain(environment(options));
  let timer: NodeJS.Timeout | undefined;
  const running = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The server was still running after ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
  });
  try {
    // 'close', not 'exit': by then all it wrote to stderr has been read.
    const [code] = (await Promise.race([once(child, 'close'), running])) as [number | null];
    return { code, output: output() };
  } finally {
    clearTimeout(timer);
  }
}
