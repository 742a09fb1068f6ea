/**
 * `npm start`: the sync server and the built app on one port.
 *
 *   PORT (8080), HOST (127.0.0.1), REDIS_CLUSTER_NODES or REDIS_URL (else a local redis-server;
 *   see redis-config.ts), TALLY_SECRET (else one generated into .data/secret), TALLY_ALLOW_CREATE_SPACES
 *   (`false` to refuse new spaces), TALLY_STATIC_DIR (dist).
 *
 * Limits (options.ts): TALLY_RATE_LIMIT (`false` turns the request limits off),
 * TALLY_RATE_PER_SPACE, TALLY_RATE_CREATE_PER_IP, TALLY_RATE_REFUSED_PER_IP (requests per minute),
 * TALLY_MAX_LIVE_PER_SPACE (live feeds open at once per space), TALLY_MAX_EVENTS_PER_SPACE (events
 * one space may hold), TALLY_MAX_LIVE_SPACES (spaces this instance follows live at once),
 * TALLY_INVITE_TTL_MINUTES (how long a pairing invite works; 15).
 * TALLY_REQUEST_TIMEOUT_MS (30 s to send a whole request, body included) and
 * TALLY_HEADERS_TIMEOUT_MS (10 s for its headers): past them Node answers 408 and closes.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { redisFromEnv } from './redis-config.ts';
import { loadSecret } from './secret.ts';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { startServer, type ServerOptions } from './server.ts';

const project = fileURLToPath(new URL('..', import.meta.url));
const dataDir = join(project, '.data');
const env = process.env;

const say = (message: string) => process.stderr.write(`${message}\n`);

/** A whole number from the environment; anything else is left for the options to refuse. */
const numberFrom = (name: string): number | undefined =>
  env[name] === undefined || env[name] === '' ? undefined : Number(env[name]);

function rateLimitFromEnv(): ServerOptions['rateLimit'] {
  if (env['TALLY_RATE_LIMIT'] === 'false') return false;
  const limits = {
    perSpacePerMinute: numberFrom('TALLY_RATE_PER_SPACE'),
    createPerIpPerMinute: numberFrom('TALLY_RATE_CREATE_PER_IP'),
    refusedPerIpPerMinute: numberFrom('TALLY_RATE_REFUSED_PER_IP'),
  };
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}

/** TALLY_TLS_CERT and TALLY_TLS_KEY: paths to PEM files; both or neither. */
function tlsFromEnv(): { cert: Buffer; key: Buffer } | undefined {
  const cert = env['TALLY_TLS_CERT'];
  const key = env['TALLY_TLS_KEY'];
  if (!cert && !key) return undefined;
  if (!cert || !key)
    throw new Error('Set both TALLY_TLS_CERT and TALLY_TLS_KEY (PEM files), or neither.');
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/**
 * Where other devices can reach this server, said at start: a phone needs an address on the
 * network, over HTTPS, for Tally to run there at all (browsers keep offline storage, workers and
 * sync from insecure pages).
 */
function reachability(host: string, port: number, secure: boolean): string[] {
  const scheme = secure ? 'https' : 'http';
  if (host === '127.0.0.1' || host === 'localhost' || host === '::1')
    return [
      `Tally: reachable from this computer only (HOST=${host}). To pair a phone on the same network, start with HOST=0.0.0.0 and a certificate the phone trusts (TALLY_TLS_CERT, TALLY_TLS_KEY), or put an HTTPS reverse proxy in front.`,
    ];
  const addresses =
    host === '0.0.0.0' || host === '::'
      ? Object.values(networkInterfaces())
          .flat()
          .filter((info) => info && !info.internal && info.family === 'IPv4')
          .map((info) => info!.address)
      : [host];
  return [
    ...addresses.map((address) => `Tally: reachable at ${scheme}://${address}:${port}`),
    ...(secure
      ? []
      : [
          'Tally: without TLS, other devices get an insecure origin and Tally will not run there; set TALLY_TLS_CERT and TALLY_TLS_KEY.',
        ]),
  ];
}

async function main(): Promise<void> {
  const port = Number(env['PORT'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`Bad PORT: ${env['PORT']}`);

  const { options: redis, local, where } = await redisFromEnv(env, dataDir, say);

  const tls = tlsFromEnv();
  const host = env['HOST'] ?? '127.0.0.1';
  const server = await startServer({
    port,
    host,
    ...(tls ? { tls } : {}),
    ...redis,
    secret: loadSecret(dataDir),
    allowCreateSpaces: env['TALLY_ALLOW_CREATE_SPACES'] !== 'false',
    staticDir: env['TALLY_STATIC_DIR'] ?? join(project, 'dist'),
    rateLimit: rateLimitFromEnv(),
    ...(numberFrom('TALLY_MAX_LIVE_PER_SPACE') === undefined
      ? {}
      : { maxLiveConnectionsPerSpace: numberFrom('TALLY_MAX_LIVE_PER_SPACE') }),
    ...(numberFrom('TALLY_MAX_EVENTS_PER_SPACE') === undefined
      ? {}
      : { maxEventsPerSpace: numberFrom('TALLY_MAX_EVENTS_PER_SPACE') }),
    ...(numberFrom('TALLY_INVITE_TTL_MINUTES') === undefined
      ? {}
      : { inviteTtlMs: numberFrom('TALLY_INVITE_TTL_MINUTES')! * 60_000 }),
    ...(numberFrom('TALLY_MAX_LIVE_SPACES') === undefined
      ? {}
      : { maxLiveSpaces: numberFrom('TALLY_MAX_LIVE_SPACES') }),
    ...(numberFrom('TALLY_REQUEST_TIMEOUT_MS') === undefined
      ? {}
      : { requestTimeoutMs: numberFrom('TALLY_REQUEST_TIMEOUT_MS') }),
    ...(numberFrom('TALLY_HEADERS_TIMEOUT_MS') === undefined
      ? {}
      : { headersTimeoutMs: numberFrom('TALLY_HEADERS_TIMEOUT_MS') }),
  });
  say(`Tally is running at ${server.url} (${where})`);
  for (const line of reachability(host, server.port, tls !== undefined)) say(line);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`Tally: ${signal}, finishing requests in flight…`);
    await server.close();
    await local?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  say(`Tally could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
