import type { Cluster, Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import { isCluster, type RedisConnection } from './redis-client.ts';

/**
 * Sharded pub/sub wake-ups (SSUBSCRIBE), one subscription per channel however many clients wait
 * on it. On one node that is one subscriber connection; on a Cluster, ioredis keeps one per master
 * (`shardedSubscribers`), so the connections an instance holds never grow with its channels.
 */
export interface WakeUps {
  /** Resolves once Redis confirmed the subscription: every later publish on it is heard. */
  add(channel: string): Promise<void>;
  remove(channel: string): void;
  close(): void;
}

export type WakeUpHandlers = {
  /** A message on a channel; pub/sub may drop messages, so a missing one is no proof of quiet. */
  readonly wake: (channel: string, message: string) => void;
  /**
   * The subscriptions were (re)made after a reconnect or a topology change (failover): whatever
   * was published meanwhile may be lost, so every listener should read again.
   */
  readonly resync: () => void;
  /**
   * Redis keeps refusing the subscriber's connection while it answers the app's own (maxclients,
   * say): listeners would wait for ever, so they should end their streams with this error.
   */
  readonly refused: (error: TallyError) => void;
};

/** How long a subscription may take before the live feed is refused with 503. */
const subscribeTimeoutMs = 5_000;
/**
 * Connections the subscriber lost or could not make while the app's own connection was up, since
 * it was last ready, before its listeners are told it is refused.
 */
const maxRefusals = 5;

const cannotFollow = () =>
  new TallyError(
    'unavailable',
    'The sync server cannot follow this space live right now. Reconnecting shortly.',
  );

const withTimeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(cannotFollow()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof TallyError ? error : cannotFollow());
      },
    );
  });

export function createWakeUps(redis: RedisConnection, handlers: WakeUpHandlers): WakeUps {
  return isCluster(redis) ? clusterWakeUps(redis, handlers) : nodeWakeUps(redis, handlers);
}

function clusterWakeUps(cluster: Cluster, handlers: WakeUpHandlers): WakeUps {
  const message = (channel: string, text: string) => handlers.wake(channel, text);
  const resync = () => handlers.resync();
  cluster.on('smessage', message);
  // ioredis moves subscriptions to the new masters after a topology change, then says so.
  cluster.on('subscribersReady', resync);
  cluster.on('ready', resync);
  return {
    add: (channel) => withTimeout(cluster.ssubscribe(channel), subscribeTimeoutMs).then(() => {}),
    remove(channel) {
      cluster.sunsubscribe(channel).catch(() => {});
    },
    close() {
      cluster.off('smessage', message);
      cluster.off('subscribersReady', resync);
      cluster.off('ready', resync);
    },
  };
}

function nodeWakeUps(redis: Redis, handlers: WakeUpHandlers): WakeUps {
  // A subscribed connection takes no other commands, so wake-ups get their own, one for all
  // channels; ioredis subscribes it to them again after every reconnect.
  const connection = redis.duplicate({
    connectionName: `${redis.options.connectionName ?? 'tally'}-live`,
    autoResubscribe: true,
  });
  let everReady = false;
  let refusals = 0;
  let closed = false;
  connection.on('smessage', (channel: string, text: string) => handlers.wake(channel, text));
  // Errors are reported by the main connection; this one reconnects. A connection that fails
  // while the main one is fine is counted: during an outage both fail, and nothing is.
  const refused = () => {
    if (closed || redis.status !== 'ready') return;
    if (++refusals === maxRefusals) handlers.refused(cannotFollow());
  };
  connection.on('error', refused);
  connection.on('close', refused);
  connection.on('ready', () => {
    refusals = 0;
    // ioredis has just sent the SSUBSCRIBEs again; a PING answered after them means they are in
    // place, so the read that follows misses nothing a later wake-up would not bring.
    if (everReady)
      void connection
        .ping()
        .catch(() => {})
        .then(() => handlers.resync());
    everReady = true;
  });

  /** The subscriber connection ready, or a 503 once it has had a fair chance to be. */
  const ready = () =>
    connection.status === 'ready'
      ? Promise.resolve()
      : withTimeout(
          new Promise<void>((resolve) => connection.once('ready', () => resolve())),
          redis.status === 'ready' ? 2_000 : 0,
        );

  return {
    add: (channel) =>
      withTimeout(
        ready().then(() => connection.ssubscribe(channel)),
        subscribeTimeoutMs,
      ).then(() => {}),
    remove(channel) {
      connection.sunsubscribe(channel).catch(() => {});
    },
    close() {
      closed = true;
      connection.disconnect();
    },
  };
}
