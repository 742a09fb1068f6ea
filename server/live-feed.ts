import { TallyError } from '../core/errors.ts';
import { limits, type FeedEntry } from '../core/protocol.ts';
import { carriedPrefix } from './append-script.ts';
import { compareCursors } from './cursor.ts';
import type { RedisConnection } from './redis-client.ts';
import { redisKeys, spaceOfWake, type SyncStore } from './redis-store.ts';
import { parseFeedEntry } from './stored-event.ts';
import { createWakeUps } from './wake-ups.ts';

export type LiveSubscriber = {
  /** New entries of the space, in feed order. Must not throw. */
  readonly entries: (entries: readonly FeedEntry[]) => void;
  /**
   * The server stops following the space: at shutdown (no error), or because it cannot follow
   * (`error`: Redis refuses the subscriber's connection while it serves others). The subscriber
   * should end its stream, with the error if there is one, so the client reconnects.
   */
  readonly closed: (error?: TallyError) => void;
};

export interface LiveFeed {
  /**
   * Starts delivering the space's new entries. Whatever is in the feed when the returned promise
   * resolves, a catch-up read from then on covers; everything later is delivered here. Callers
   * read the catch-up after subscribing and drop what they already sent, so nothing falls
   * between the two.
   */
  subscribe(space: string, subscriber: LiveSubscriber): Promise<() => void>;
  /**
   * A wake-up this instance published itself (an append it ran, redis-store.ts): its followers
   * take it now; pub/sub's copy, which comes after, finds it delivered.
   */
  wake(space: string, message: string): void;
  /** Spaces followed and subscribers served on this instance, for tests and monitoring. */
  stats(): { readonly spaces: number; readonly subscribers: number };
  close(): Promise<void>;
}

/**
 * One follower per space with live clients on this instance, shared by all of them, and no
 * connection of its own: the append script SPUBLISHes a wake-up on the space's channel, the
 * follower (subscribed once, sharded pub/sub) then sends on the entries it carries when they
 * follow its cursor, or reads the feed from its cursor with a plain XRANGE on the app's
 * connection (append-script.ts). The channel is trusted as the database is: whoever may publish
 * on it may write the feed. Pub/sub may lose a message (a reconnect, a failover), so
 * followers also read after every resubscription and every `rereadMs`: a lost wake-up delays an
 * entry, never drops it. Redis is the only thing instances share, so a push to any instance
 * reaches every follower.
 */
/** What a removal publishes on the space's wake-up channel, before the device id. */
export const revokedPrefix = 'revoked:';

export function createLiveFeed(options: {
  redis: RedisConnection;
  store: SyncStore;
  /** How often every follower reads without a wake-up. */
  rereadMs: number;
  /** Spaces followed at once: each costs memory and a subscription. */
  maxSpaces?: number;
  /**
   * A device of a followed space was removed on some instance (`revoked:<device>` on the space's
   * channel): its streams here end now, not at their next lease renewal.
   */
  onRevoked?: (space: string, device: string) => void;
}): LiveFeed {
  const followers = new Map<string, SpaceFollower>();
  let closing = false;
  const wakeUps = createWakeUps(options.redis, {
    wake(channel, message) {
      const space = spaceOfWake(channel);
      if (space === undefined) return;
      if (message.startsWith(revokedPrefix)) {
        options.onRevoked?.(space, message.slice(revokedPrefix.length));
        return;
      }
      followers.get(space)?.wake(message);
    },
    resync: () => {
      // A reconnect may be a failover: a promoted replica can lack the last writes.
      for (const follower of followers.values()) follower.recheck();
    },
    refused(error) {
      for (const follower of [...followers.values()]) follower.stop(error);
    },
  });
  const timer = setInterval(() => {
    for (const follower of followers.values()) follower.wake();
  }, options.rereadMs);
  timer.unref();

  const remove = (follower: SpaceFollower) => {
    if (followers.get(follower.space) !== follower) return;
    followers.delete(follower.space);
    wakeUps.remove(redisKeys.wake(follower.space));
  };

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
        const created = new SpaceFollower(space, options.store, () => remove(created));
        follower = created;
        followers.set(space, created);
        // Subscribed first, then the start position: an append after the head read is one
        // Redis has a subscriber for, and one before it is in every subscriber's catch-up.
        created.start(
          wakeUps
            .add(redisKeys.wake(space))
            .then(() => options.store.feedHead(space))
            .catch((error: unknown) => {
              throw error instanceof TallyError
                ? error
                : new TallyError('unavailable', 'The sync server cannot follow this space live.');
            }),
        );
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

    wake(space, message) {
      if (!message.startsWith(revokedPrefix)) followers.get(space)?.wake(message);
    },

    stats() {
      let subscribers = 0;
      for (const follower of followers.values()) subscribers += follower.subscribers.size;
      return { spaces: followers.size, subscribers };
    },

    async close() {
      closing = true;
      clearInterval(timer);
      const all = [...followers.values()];
      for (const follower of all) follower.stop();
      followers.clear();
      await Promise.all(all.map((follower) => follower.idle()));
      wakeUps.close();
    },
  };
}

class SpaceFollower {
  readonly subscribers = new Set<LiveSubscriber>();
  started: Promise<void> = Promise.resolve();
  /** The newest entry delivered (or the head when it started); '' until then. */
  private cursor = '';
  /** The stream of the cursor's entry (unknown for a head Redis held malformed). */
  private cursorStream: string | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    readonly space: string,
    private readonly store: SyncStore,
    private readonly onStop: () => void,
  ) {}

  start(head: Promise<{ readonly cursor: string; readonly stream?: string }>): void {
    this.started = head.then(({ cursor, stream }) => {
      this.cursor = cursor;
      this.cursorStream = stream;
    });
    this.started.catch(() => this.stop());
  }

  remove(subscriber: LiveSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  stop(error?: TallyError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop();
    for (const subscriber of this.subscribers) subscriber.closed(error);
    this.subscribers.clear();
  }

  idle(): Promise<void> {
    return this.reading ?? Promise.resolve();
  }

  /**
   * After Redis came back: a feed that no longer holds this follower's cursor lost its last
   * writes (a replica promoted without them), even when new entries put its head past it again.
   * The streams end, so every device catches up, sees the feed went back, and gives back what it
   * saw since; new entries may also have ids before the old cursor, which this follower would
   * never read. Otherwise, read as usual. (A cursor swept out with a stream deleted forever ends
   * them too: its devices give back what the feed holds still, a copy kept, or the deleted
   * stream's events, answered with its tombstone.)
   */
  recheck(): void {
    if (this.stopped || this.cursor === '') return;
    this.lost().then(
      (back) => {
        if (back !== undefined) this.stop();
        else this.wake();
      },
      () => this.wake(),
    );
  }

  /**
   * Where the feed went back to when it no longer holds this follower's cursor (redis-store.ts
   * `wentBack`), undefined while it does. Not when the cursor's stream was deleted forever: its
   * entry was swept out, and its tombstone, after it, is held, so no failover took it.
   */
  private lost(): Promise<string | undefined> {
    if (compareCursors(this.cursor, '0-0') <= 0) return Promise.resolve(undefined);
    return this.store.wentBack(this.space, this.cursor, this.cursorStream);
  }

  /**
   * Sends on the entries a wake-up carries when they follow the cursor; otherwise reads the feed
   * from the cursor, unless the wake-up's newest entry is already delivered. Wake-ups during a
   * read make it read once more, so a burst costs one or two reads.
   */
  wake(message?: string): void {
    if (this.stopped || this.cursor === '') return;
    const carried = message?.startsWith(carriedPrefix) ? carriedIds(message) : undefined;
    const newest = carried ? carried.last : message;
    if (newest && /^\d+-\d+$/.test(newest) && compareCursors(newest, this.cursor) <= 0) return;
    if (carried && !this.reading && carried.after === this.cursor) {
      // They follow what was delivered: sent on as they are, with no read of the feed.
      const entries = carriedEntries(message!);
      if (entries) {
        this.cursor = carried.last;
        this.cursorStream = entries.at(-1)!.event.stream;
        for (const subscriber of this.subscribers) subscriber.entries(entries);
        return;
      }
    }
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.read().finally(() => (this.reading = undefined));
  }

  private async read(): Promise<void> {
    do {
      this.again = false;
      let page, back;
      try {
        // Each read also checks the cursor is still in the feed: after a failover, a read (a
        // wake-up of a new push, the timer) may come before the resubscription's recheck, and
        // would otherwise carry its streams past the lost entries without a word.
        [page, back] = await Promise.all([
          this.store.readFeed(this.space, this.cursor, limits.maxPullLimit),
          this.lost(),
        ]);
      } catch (error) {
        // Redis is away (the cause is its error): the next wake-up, resubscription or timer reads
        // again from the same cursor, and subscribers stay connected and miss nothing. A malformed
        // entry (no cause) will not heal: the streams end, and their clients' catch-up reports it.
        if (!(error instanceof Error && error.cause !== undefined)) this.stop();
        return;
      }
      if (this.stopped) return;
      if (back !== undefined) return this.stop();
      const last = page.entries.at(-1);
      if (last) {
        this.cursor = last.cursor;
        this.cursorStream = last.event.stream;
        for (const subscriber of this.subscribers) subscriber.entries(page.entries);
      }
      if (page.more) this.again = true;
    } while (this.again && !this.stopped);
  }
}

/**
 * The feed's newest id before the entries a wake-up carries, and the last one's, read from the
 * message alone (its entries are parsed only when they are sent on). Undefined when malformed.
 */
function carriedIds(
  message: string,
): { readonly after: string; readonly last: string } | undefined {
  const afterEnd = message.indexOf('\n');
  const lastStart = message.lastIndexOf('\n') + 1;
  if (afterEnd === -1) return undefined;
  const after = message.slice(carriedPrefix.length, afterEnd);
  const last = message.slice(lastStart, message.indexOf(' ', lastStart));
  const id = /^\d+-\d+$/;
  return id.test(after) && id.test(last) ? { after, last } : undefined;
}

/**
 * The entries a wake-up carries (append-script.ts), each as the feed holds it; undefined for
 * anything malformed: the feed is read instead.
 */
function carriedEntries(message: string): FeedEntry[] | undefined {
  const lines = message.split('\n').slice(1);
  try {
    const entries = lines.map((line) => {
      const space = line.indexOf(' ');
      return parseFeedEntry([line.slice(0, space), ['e', line.slice(space + 1)]]);
    });
    return entries.length > 0 && entries.every(({ cursor }) => /^\d+-\d+$/.test(cursor))
      ? entries
      : undefined;
  } catch {
    return undefined;
  }
}
