import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { limits, type FeedEntry, type LiveMessage } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceTokens } from '../auth.ts';
import { compareCursors } from '../cursor.ts';
import type { LiveFeed } from '../live-feed.ts';
import type { SyncStore } from '../redis-store.ts';
import { parseCursor } from './events.ts';

/** A client this far behind is cut off; it reconnects and catches up from Redis instead. */
const maxQueuedEntries = 10_000;
/** How soon a browser's EventSource reconnects after the stream ends. */
const retryMs = 2_000;

/**
 * `GET /api/spaces/:space/live?after=<cursor>` → `text/event-stream`. Each message's `id` is the
 * cursor of its last entry and its `data` a JSON array of `FeedEntry`, so a reconnecting
 * EventSource resumes with `Last-Event-ID` exactly where it stopped. `: ping` comments keep
 * proxies from closing a quiet stream. The token may come as `?token=`: EventSource cannot send
 * headers.
 */
export function liveRoute(options: {
  tokens: SpaceTokens;
  store: () => SyncStore;
  live: () => LiveFeed;
  heartbeatMs: number;
  onStream: (delta: 1 | -1) => void;
}) {
  return new Hono<AppEnv>().get(
    '/api/spaces/:space/live',
    requireSpaceToken(options.tokens, { allowQueryToken: true }),
    async (c) => {
      const space = c.get('space');
      // Per the SSE spec a reconnecting EventSource sends Last-Event-ID; it wins over the URL's
      // `after`, which still names where the first connection started.
      // An empty Last-Event-ID means none.
      const after = parseCursor(c.req.header('Last-Event-ID') || c.req.query('after'));
      const store = options.store();
      const queue = new EntryQueue();
      // Subscribe before the catch-up read: whatever the read misses, the subscription has.
      const unsubscribe = await options.live().subscribe(space, {
        entries: (entries) => queue.push(entries),
        closed: () => queue.close(),
      });
      let page: Awaited<ReturnType<SyncStore['readFeed']>>;
      try {
        // The first page is read before answering, so an unreachable Redis is a plain 503.
        page = await store.readFeed(space, after, limits.maxPullLimit);
      } catch (error) {
        unsubscribe();
        throw error;
      }
      options.onStream(1);

      return streamSSE(
        c,
        async (stream) => {
          let cursor = after;
          const send = async (entries: readonly FeedEntry[]) => {
            const fresh = entries.filter((entry) => compareCursors(entry.cursor, cursor) > 0);
            const last = fresh.at(-1);
            if (!last) return;
            cursor = last.cursor;
            const message: LiveMessage = fresh;
            await stream.writeSSE({ id: cursor, data: JSON.stringify(message) });
          };
          const heartbeat = setInterval(() => void stream.write(': ping\n\n'), options.heartbeatMs);
          stream.onAbort(() => queue.close());
          try {
            await stream.write(`retry: ${retryMs}\n\n`);
            await send(page.entries);
            while (page.more && !stream.aborted) {
              page = await store.readFeed(space, cursor, limits.maxPullLimit);
              await send(page.entries);
            }
            for (let next = await queue.next(); next; next = await queue.next()) await send(next);
          } finally {
            clearInterval(heartbeat);
            queue.close();
            unsubscribe();
            options.onStream(-1);
          }
        },
        // Without this handler streamSSE would print the error; with it, it sends the message as
        // `event: error` and ends the stream. Store failures are TallyErrors: a sentence.
        async () => {},
      );
    },
  );
}

/** Entries waiting to be written to one client, in feed order. */
class EntryQueue {
  private batches: FeedEntry[][] = [];
  private size = 0;
  private closed = false;
  private wake = () => {};

  push(entries: readonly FeedEntry[]): void {
    if (this.closed) return;
    this.size += entries.length;
    if (this.size > maxQueuedEntries) return this.close();
    this.batches.push([...entries]);
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.batches = [];
    this.wake();
  }

  /** The next entries, all that waited, or undefined once closed. */
  async next(): Promise<FeedEntry[] | undefined> {
    while (this.batches.length === 0 && !this.closed)
      await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.closed) return undefined;
    const entries = this.batches.flat();
    this.batches = [];
    this.size = 0;
    return entries;
  }
}
