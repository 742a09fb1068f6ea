/**
 * `npm start`: the sync server and the built app on one port.
 *
 *   PORT (8080), HOST (127.0.0.1), REDIS_URL (else a local redis-server child keeping its data in
 *   .data/redis), TALLY_SECRET (else one generated into .data/secret), TALLY_ALLOW_CREATE_SPACES
 *   (`false` to refuse new spaces), TALLY_STATIC_DIR (dist).
 *
 * Limits (options.ts): TALLY_RATE_LIMIT (`false` turns the request limits off),
 * TALLY_RATE_PER_SPACE, TALLY_RATE_CREATE_PER_IP, TALLY_RATE_REFUSED_PER_IP (requests per minute),
 * TALLY_MAX_LIVE_PER_SPACE (live feeds open at once per space), TALLY_MAX_EVENTS_PER_SPACE (events
 * one space may hold), TALLY_MAX_LIVE_SPACES (spaces this instance follows live at once).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { RedisMissingError, startLocalRedis, type LocalRedis } from './local-redis.ts';
import { loadSecret } from './secret.ts';
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

async function main(): Promise<void> {
  const port = Number(env['PORT'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`Bad PORT: ${env['PORT']}`);

  let local: LocalRedis | undefined;
  let redis: string | false;
  if (env['REDIS_URL']) redis = env['REDIS_URL'];
  else {
    try {
      local = await startLocalRedis({ dir: join(dataDir, 'redis') });
      redis = local.url;
    } catch (error) {
      if (!(error instanceof RedisMissingError)) throw error;
      // The app still works offline-first without sync, so serve it anyway.
      say(`Tally: ${error.message} Serving the app without sync; the API answers 503.`);
      redis = false;
    }
  }

  const server = await startServer({
    port,
    host: env['HOST'] ?? '127.0.0.1',
    redis,
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
    ...(numberFrom('TALLY_MAX_LIVE_SPACES') === undefined
      ? {}
      : { maxLiveSpaces: numberFrom('TALLY_MAX_LIVE_SPACES') }),
  });
  say(`Tally is running at ${server.url}${local ? ` (Redis on port ${local.port})` : ''}`);

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
