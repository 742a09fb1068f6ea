import { Redis, type RedisOptions } from 'ioredis';

export type RedisState = 'up' | 'down';

/**
 * A client that fails fast. While Redis is unreachable a request should get a clear 503 at once,
 * not hang in ioredis's offline queue until the client gives up: so no offline queue, and a
 * command in flight when the connection drops is failed rather than resent (an append the client
 * retries is recognised by its event ids, so failing is always safe). Reconnecting goes on forever
 * in the background, so the server heals by itself when Redis is back.
 */
export const failFastOptions = {
  // RESP2 keeps reply shapes plain arrays whatever ioredis's RESP3 mapping default becomes.
  protocol: 2,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  // A Redis that accepts the connection but never answers (stopped, overloaded) still fails fast.
  commandTimeout: 5_000,
  retryStrategy: (times: number) => Math.min(50 * 2 ** times, 1_000),
} satisfies RedisOptions;

/**
 * `onStateChange` hears each transition once, for the log; without an `error` listener ioredis
 * would print every failed reconnect attempt.
 */
export function createRedisClient(
  url: string,
  onStateChange: (state: RedisState, error?: Error) => void = () => {},
): Redis {
  const redis = new Redis(url, failFastOptions);
  watchRedis(redis, onStateChange);
  return redis;
}

export function watchRedis(
  redis: Redis,
  onStateChange: (state: RedisState, error?: Error) => void,
): void {
  let state: RedisState | undefined;
  const report = (next: RedisState, error?: Error) => {
    if (state === next) return;
    state = next;
    onStateChange(next, error);
  };
  redis.on('ready', () => report('up'));
  redis.on('error', (error: Error) => report('down', error));
  redis.on('close', () => {
    if (state === 'up') report('down');
  });
}
