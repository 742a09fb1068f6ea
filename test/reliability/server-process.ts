import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { seedsOf } from '../helpers/redis-cluster.ts';

const main = fileURLToPath(new URL('../../server/main.ts', import.meta.url));

export type ServerProcess = {
  readonly url: string;
  readonly pid: number;
  /** SIGKILL: requests in flight get no answer, nothing is finished. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, the graceful stop `npm start` does on Ctrl-C. */
  stop(): Promise<void>;
};

/**
 * `npm run serve` as a child process (server/main.ts), on a given loopback port so a restart is
 * found at the same address. Resolves once it answers health with Redis up.
 */
export async function startServerProcess(options: {
  port: number;
  redisUrl: string;
  secret: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const { port, redisUrl, secret, env = {}, timeoutMs = 20_000 } = options;
  // `redis-cluster://host:port,…` (a test cluster) is given as REDIS_CLUSTER_NODES.
  const seeds = seedsOf(redisUrl);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', main], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(seeds ? { REDIS_CLUSTER_NODES: seeds.join(',') } : { REDIS_URL: redisUrl }),
      TALLY_SECRET: secret,
      // API only: no built app is needed here.
      TALLY_STATIC_DIR: '/nonexistent',
      ...env,
    },
    // Request logs go to stdout: not read, so not piped (a full pipe would stall the server).
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  const exited = once(child, 'exit').then(() => undefined);
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`The server exited before it answered:\n${output}`);
    const healthy = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.status === 200,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The server did not answer on ${url} within ${timeoutMs} ms:\n${output}`);
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
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}
