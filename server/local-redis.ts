import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export type LocalRedis = {
  readonly port: number;
  readonly url: string;
  /** Stops redis-server (which flushes its append-only file first). */
  stop(): Promise<void>;
  /** SIGKILL: no flush, no goodbye, as a crash would. Resolves once the process is gone. */
  kill(): Promise<void>;
};

export type LocalRedisOptions = {
  /** Where redis-server keeps its append-only file; created when missing. */
  readonly dir: string;
  /** Default: a free loopback port. */
  readonly port?: number;
  readonly binary?: string;
  /** How long to wait for the first PONG. Default 10 s. */
  readonly timeoutMs?: number;
  /**
   * When writes reach the disk. Default `always`: Redis fsyncs the append-only file before it
   * answers, so whatever was acked survives a crash of redis-server or of the machine.
   * `everysec` (Redis's own default) fsyncs once a second, and may answer before it has even
   * written when a slow fsync holds it back: a crash of redis-server or of the machine may lose
   * up to about the last two seconds of acked writes (devices give back what they still hold).
   */
  readonly appendfsync?: 'always' | 'everysec';
};

export class RedisMissingError extends Error {
  constructor(readonly binary: string) {
    super(`${binary} is not installed (Debian: apt-get install redis-server).`);
  }
}

/** A free loopback port, as the OS hands one out for port 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** One PING over a raw socket: true for `+PONG`, false for anything else (refused, loading…). */
export function ping(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Starts a redis-server child on loopback with its own folder and an append-only file, and
 * resolves once it answers PING. Fails (with redis-server's own output) if it exits first or does
 * not answer in time.
 */
export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  const { dir, binary = 'redis-server', timeoutMs = 10_000, appendfsync = 'always' } = options;
  const port = options.port ?? (await freePort());
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      appendfsync,
      '--save',
      '',
      '--protected-mode',
      'yes',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  let exited = false;
  let missing = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      exited = true;
      missing = error.code === 'ENOENT';
      resolve();
    });
  });

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (missing) throw new RedisMissingError(binary);
    if (exited) throw new Error(`redis-server exited before it answered:\n${output.trim()}`);
    if (await ping(port, 250)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms.`);
    }
    await Promise.race([pause(25), exit]);
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(child, exit),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

async function stopChild(child: ChildProcess, exit: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exit;
  clearTimeout(timer);
}

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });
