import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import { TallyError, toTallyError } from '../core/errors.ts';
import type { AnyEvent, RemoteOutcome, StoredEvent } from '../core/event-store.ts';
import type { FeedEntry } from '../core/protocol.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import type { SyncConfig, TallyDatabase } from './idb-schema.ts';
import { DivergedError } from './remote-apply.ts';
import { pendingCount, readCursor, readPush, readRestore, writeCursor } from './outbox.ts';
import type { SyncTransport } from './sync-transport.ts';

/** What the sync client needs of the engine: its store, and its actors' mailboxes. */
export type SyncTarget<E extends AnyEvent> = {
  readonly db: TallyDatabase;
  readonly decodeStored: (record: unknown) => StoredEvent<E>;
  /** Validates an event from the server against the model's codec (the server is an edge). */
  readonly decodeRemote: (raw: unknown) => EventEnvelope<E>;
  applyRemote(stream: StreamId, events: readonly EventEnvelope<E>[]): Promise<RemoteOutcome<E>>;
};

export type SyncState = 'off' | 'offline' | 'syncing' | 'synced';
export type SyncStatus = {
  readonly state: SyncState;
  readonly pending: number;
  readonly lastError?: string;
};

export type SyncClientOptions<E extends AnyEvent> = {
  readonly target: SyncTarget<E>;
  readonly config: SyncConfig;
  readonly transport: SyncTransport;
  readonly backoff?: BackoffOptions;
  /** How long a push waits for more commits to join it. Default 10 ms. */
  readonly pushDelayMs?: number;
  readonly onStatus?: (status: SyncStatus) => void;
};

/** Thrown inside the feed loop when a stream's events skipped versions: catch up from 0. */
class Gap extends Error {}

/**
 * Keeps one device in step with its space (DESIGN.md §4): pushes pending commands (one push in
 * flight, commits batched, backoff with jitter on failure), catches up from the stored feed
 * cursor and then follows the live feed. Every event from the server goes to its aggregate's
 * mailbox; the store does the rest in its transactions, so this class holds no state a crash
 * could lose.
 */
const divergedError = (stream: StreamId) =>
  new TallyError(
    'conflict',
    `The server's history of ${stream} differs from this device's: it lost events and others wrote there since. This device keeps its copy and stops sending that counter.`,
  );

export class SyncClient<E extends AnyEvent> {
  private running = false;
  private online = true;
  private live = false;
  private lastError: string | undefined;
  private pending = 0;
  private pushing = false;
  private pushRequested = false;
  private resyncFromStart = false;
  /**
   * Pushes wait for one catch-up per online period: the device first learns what the others
   * did while it was away, so its pending commands are re-decided against that (a name taken
   * meanwhile) before they go out, rather than racing it.
   */
  private caughtUp = false;
  private feed: AbortController | undefined;
  private readonly wakers = new Set<() => void>();
  private feedDone: Promise<void> | undefined;
  private pushDone: Promise<void> | undefined;
  private readonly feedBackoff: Backoff;
  private readonly pushBackoff: Backoff;

  constructor(private readonly options: SyncClientOptions<E>) {
    this.feedBackoff = new Backoff(options.backoff);
    this.pushBackoff = new Backoff(options.backoff);
  }

  get config(): SyncConfig {
    return this.options.config;
  }

  status(): SyncStatus {
    const state: SyncState = !this.running
      ? 'off'
      : !this.online || this.lastError !== undefined
        ? 'offline'
        : this.live && this.pending === 0 && !this.pushing
          ? 'synced'
          : 'syncing';
    return {
      state,
      pending: this.pending,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.feedDone = this.feedLoop();
    this.nudge();
  }

  /** Stops both loops and waits for them; what was taken is finished or left for next time. */
  async stop(): Promise<void> {
    this.running = false;
    this.feed?.abort();
    this.wakeAll();
    await Promise.allSettled([this.feedDone, this.pushDone]);
    this.emit();
  }

  /** New local commits (or a rebase) may have something to push. */
  nudge(): void {
    this.pushRequested = true;
    void this.refreshPending();
    if (!this.running || this.pushing) return;
    this.pushing = true;
    this.pushDone = this.pushLoop().finally(() => {
      this.pushing = false;
      this.emit();
      if (this.pushRequested && this.running) this.nudge();
    });
  }

  /** A hint from the platform (`online`/`offline` events): retry now, or stop trying. */
  setOnline(online: boolean): void {
    this.online = online;
    if (!online) {
      this.caughtUp = false;
      this.feed?.abort();
    } else {
      this.feedBackoff.reset();
      this.pushBackoff.reset();
    }
    this.wakeAll();
    this.emit();
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  private emit(): void {
    this.options.onStatus?.(this.status());
  }

  private async refreshPending(): Promise<void> {
    try {
      this.pending = await pendingCount(this.options.target.db);
      this.emit();
    } catch {
      // The database is closing; the next status will tell.
    }
  }

  private fail(error: unknown): void {
    this.live = false;
    this.lastError = toTallyError(error).message;
    this.emit();
  }

  /** Waits `ms`, or less when woken (online again, stopping). */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async untilOnline(): Promise<void> {
    while (this.running && !this.online) await this.pause(60_000);
  }

  private async untilCaughtUp(): Promise<void> {
    while (this.running && (!this.online || !this.caughtUp)) await this.pause(60_000);
  }

  private async pushLoop(): Promise<void> {
    const { target, transport, config } = this.options;
    while (this.running) {
      await this.untilCaughtUp();
      if (!this.running) return;
      // Commits arriving together go out together.
      await this.pause(this.options.pushDelayMs ?? 10);
      // Went offline while waiting: nothing goes out until the next catch-up.
      if (!this.online || !this.caughtUp) continue;
      this.pushRequested = false;
      let streams;
      try {
        streams = (await readPush(target.db, target.decodeStored)).filter(
          ({ stream }) => !this.diverged.has(stream),
        );
      } catch (error) {
        this.fail(error);
        return;
      }
      if (streams.length === 0) return;
      try {
        const { results } = await transport.push(config, { streams });
        const outcomes = await Promise.all(
          results.map(async (result) => {
            const sent = streams.find((s) => s.stream === result.stream);
            if (!sent)
              throw new TallyError('unavailable', 'The server answered for a stream never sent.');
            // Redis lost events and someone else wrote at those versions since: the server's
            // history and ours differ below the confirmed head. Never guess; say so.
            if (result.status === 'diverged') {
              this.diverged.add(result.stream);
              return { type: 'applied' as const };
            }
            // The server holds fewer events than it once accepted from us: it lost some (Redis
            // restarted without its last second). Give them back, then push as usual.
            if (result.status === 'conflict' && result.version < sent.expectedVersion) {
              await this.restore(result.stream, result.version, sent.expectedVersion);
              return { type: 'applied' as const };
            }
            // Accepted: the server now holds exactly the events sent, at their versions, so they
            // are applied as the server's like any other (they echo the pending ones).
            // Conflict: the events the device has not seen; applying them rebases.
            const events = result.status === 'accepted' ? sent.events : result.events;
            return target.applyRemote(result.stream, events.map(target.decodeRemote));
          }),
        );
        // Conflict events start at the confirmed head, so a gap means the feed must catch up.
        if (outcomes.some((outcome) => outcome.type === 'gap')) this.requestResync();
        this.pushBackoff.reset();
        if (this.live) this.clearError();
        this.pushRequested = true;
      } catch (error) {
        this.fail(error);
        await this.pause(this.pushBackoff.next());
        this.pushRequested = true;
      }
      await this.refreshPending();
    }
  }

  /** Pushes this device's confirmed events the server lost; counted in `restored`. */
  private async restore(stream: StreamId, from: number, to: number): Promise<void> {
    const { target, transport, config } = this.options;
    for (const push of await readRestore(target.db, target.decodeStored, stream, from, to)) {
      const [result] = (await transport.push(config, { streams: [push] })).results;
      if (result?.status === 'diverged') {
        this.diverged.add(stream);
        return;
      }
      if (result?.status !== 'accepted')
        throw new TallyError(
          'conflict',
          `The server lost events of ${stream} and others have written there since; they cannot be restored automatically.`,
        );
      this.restored += push.events.length;
    }
  }

  /** Events given back to a server that had lost them. */
  restored = 0;

  /** Streams whose history on the server differs from ours: never pushed again by this run. */
  readonly diverged = new Set<StreamId>();

  /** Things went well: the last error is gone, unless a split history stays to be told. */
  private clearError(): void {
    const [split] = this.diverged;
    this.lastError = split === undefined ? undefined : divergedError(split).message;
  }

  private requestResync(): void {
    this.resyncFromStart = true;
    this.feed?.abort();
  }

  private async feedLoop(): Promise<void> {
    const { target, transport, config } = this.options;
    while (this.running) {
      await this.untilOnline();
      if (!this.running) return;
      const abort = (this.feed = new AbortController());
      try {
        // Catch up page by page from the stored cursor (or from the start after a gap)…
        let after = this.resyncFromStart ? '0' : await readCursor(target.db, config.space);
        this.resyncFromStart = false;
        for (;;) {
          const page = await transport.pull(config, after, abort.signal);
          await this.apply(page.entries);
          after = page.cursor;
          if (!page.more) break;
        }
        // …then follow the live feed from there.
        if (!this.caughtUp) {
          this.caughtUp = true;
          this.wakeAll();
        }
        this.live = true;
        this.clearError();
        this.feedBackoff.reset();
        this.emit();
        this.nudge();
        for await (const entries of transport.live(config, after, abort.signal)) {
          await this.apply(entries);
          after = entries.at(-1)!.cursor;
        }
        // The server ended the stream (it restarts, say): reconnect at once, then back off.
        this.live = false;
        this.emit();
        if (this.running) await this.pause(this.feedBackoff.next());
      } catch (error) {
        if (!this.running) return;
        if (error instanceof Gap || abort.signal.aborted) {
          this.live = false;
          continue;
        }
        this.fail(error);
        await this.pause(this.feedBackoff.next());
      }
    }
  }

  /**
   * Applies feed entries: each stream's events to its mailbox in version order, streams side
   * by side. The cursor is stored once they are all durable. A crash between the two delivers
   * them again, and applying an event twice is a no-op (checked by id in the store), so the
   * cursor can lag but never skip.
   */
  private async apply(entries: readonly FeedEntry[]): Promise<void> {
    const last = entries.at(-1);
    if (!last) return;
    const { target, config } = this.options;
    const byStream = new Map<StreamId, EventEnvelope<E>[]>();
    for (const { event } of entries) {
      let list = byStream.get(event.stream);
      if (!list) byStream.set(event.stream, (list = []));
      list.push(target.decodeRemote(event));
    }
    const outcomes = await Promise.all(
      [...byStream]
        .filter(([stream]) => !this.diverged.has(stream))
        .map(([stream, events]) =>
          target.applyRemote(stream, events).catch((error: unknown) => {
            // One stream whose history split must not stop the feed for all the others.
            if (!(error instanceof DivergedError)) throw error;
            this.diverged.add(stream);
            this.lastError = divergedError(stream).message;
            return { type: 'applied' as const };
          }),
        ),
    );
    if (outcomes.some((outcome) => outcome.type === 'gap')) {
      this.resyncFromStart = true;
      throw new Gap('A stream skipped versions; catching up from the start.');
    }
    await writeCursor(target.db, config.space, last.cursor);
  }
}
