import type { Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import type { FeedEntry } from '../core/protocol.ts';
import { parseFeedEntry } from './stored-event.ts';
import { redisKeys, type SyncStore } from './redis-store.ts';

export type LiveSubscriber = {
  /** New entries of the space, in feed order. Must not throw. */
  readonly entries: (entries: readonly FeedEntry[]) => void;
  /** The server stops following the space (shutdown); the subscriber should end its stream. */
  readonly closed: () => void;
};

export interface LiveFeed {
  /**
   * Starts delivering the space's new entries. Whatever is in the feed when the returned promise
   * resolves, a catch-up read from then on covers; everything later is delivered here. Callers
   * read the catch-up after subscribing and drop what they already sent, so nothing falls
   * between the two.
   */
  subscribe(space: string, subscriber: LiveSubscriber): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * One follower per space with live clients on this instance: a dedicated connection in a
 * blocking XREAD loop, shared by all of the space's clients here. Redis is the only thing
 * instances share, so a push to any instance reaches every follower.
 */
export function createLiveFeed(options: {
  redis: Redis;
  store: SyncStore;
  /** How long one XREAD blocks; bounds how quickly a closed follower notices. */
  blockMs: number;
  /** Spaces followed at once; each holds a Redis connection, so they are bounded. */
  maxSpaces?: number;
}): LiveFeed {
  const followers = new Map<string, SpaceFollower>();
  let closing = false;

  return {
    async subscribe(space, subscriber) {
      if (closing) throw new TallyError('unavailable', 'The sync server is shutting down.');
      let follower = followers.get(space);
      if (!follower) {
        if (followers.size >= (options.maxSpaces ?? Infinity))
          throw new TallyError(
            'unavailable',
            'This sync server follows as many spaces live as it can; try again later.',
          );
        follower = new SpaceFollower(space, options);
        followers.set(space, follower);
        const created = follower;
        created.onEmpty = () => {
          if (followers.get(space) === created) followers.delete(space);
        };
      }
      follower.subscribers.add(subscriber);
      try {
        await follower.started;
      } catch (error) {
        follower.remove(subscriber);
        throw error;
      }
      const subscribed = follower;
      return () => subscribed.remove(subscriber);
    },

    async close() {
      closing = true;
      const all = [...followers.values()];
      followers.clear();
      await Promise.all(all.map((follower) => follower.stop()));
    },
  };
}

class SpaceFollower {
  readonly subscribers = new Set<LiveSubscriber>();
  readonly started: Promise<void>;
  onEmpty = () => {};
  private readonly connection: Redis;
  private readonly key: string;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private wake = () => {};

  constructor(
    space: string,
    private readonly options: { redis: Redis; store: SyncStore; blockMs: number },
  ) {
    this.key = redisKeys.feed(space);
    // A blocking read holds its connection, so the follower gets its own. The command timeout is
    // replaced by a blocking timeout that allows for the BLOCK itself and still catches a dead
    // connection.
    this.connection = options.redis.duplicate({
      commandTimeout: undefined,
      blockingTimeout: options.blockMs,
      blockingTimeoutGrace: 2_000,
    });
    this.connection.on('error', () => {
      // Reported by the main connection; this one just reconnects.
    });
    // The start position is fixed before the first subscriber reads its catch-up, so no entry
    // can fall between that catch-up and this follower.
    this.started = options.store.feedHead(space).then((head) => {
      // A follower that cannot go on (a corrupt entry) ends its subscribers' streams; they
      // reconnect and their catch-up read reports the problem.
      this.loop = this.follow(head).catch(() => void this.stop());
    });
    this.started.catch(() => void this.stop());
  }

  remove(subscriber: LiveSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) void this.stop();
  }

  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.onEmpty();
      this.wake();
      // Rejects the pending XREAD, which ends the loop.
      this.connection.disconnect();
      for (const subscriber of this.subscribers) subscriber.closed();
      this.subscribers.clear();
    }
    await this.loop;
  }

  private async follow(from: string): Promise<void> {
    let cursor = from;
    let failures = 0;
    while (!this.stopped) {
      let reply: unknown;
      try {
        reply = await this.connection.xread(
          'COUNT',
          1_000,
          'BLOCK',
          this.options.blockMs,
          'STREAMS',
          this.key,
          cursor,
        );
        failures = 0;
      } catch {
        if (this.stopped) return;
        // Redis is away: wait for the reconnect (or a short backoff), then read on from `cursor`;
        // subscribers stay connected and miss nothing.
        failures++;
        await this.pause(Math.min(100 * failures, 1_000));
        continue;
      }
      const entries = readEntries(reply);
      const last = entries.at(-1);
      if (!last) continue;
      cursor = last.cursor;
      for (const subscriber of this.subscribers) subscriber.entries(entries);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.connection.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.connection.once('ready', done);
      this.wake = done;
    });
  }
}

/** XREAD's reply for one key: `[[key, [[id, fields], …]]]`, or null when it timed out. */
function readEntries(reply: unknown): FeedEntry[] {
  if (!Array.isArray(reply)) return [];
  const [stream] = reply as unknown[];
  if (!Array.isArray(stream) || !Array.isArray(stream[1])) return [];
  return (stream[1] as unknown[]).map(parseFeedEntry);
}
