import type { SyncState } from '../core/engine-protocol.ts';
import type { EventEnvelope, StreamId } from '../core/envelope.ts';
import { TallyError, toTallyError, type ErrorCode } from '../core/errors.ts';
import type { ReceiveOutcome } from '../core/event-store.ts';
import type { FeedEntry, PushResult } from '../core/protocol.ts';
import { DivergedError } from '../core/receive-plan.ts';
import type { PushStream, SyncSettings, SyncStorage } from '../core/sync-port.ts';
import { pageWentBack } from '../core/feed-cursor.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { FeedWitness, type GiveBack } from './feed-witness.ts';
import { FeedWentBack, RetryLater, type SyncTransport } from './sync-transport.ts';

export type SyncStatus = {
  readonly state: SyncState;
  readonly pending: number;
  readonly lastError?: string;
  /** What kind of failure `lastError` tells (a page words a 429 apart from a server away). */
  readonly lastErrorCode?: ErrorCode;
  /**
   * Counters joined from another space's snapshots, which wait for it (their early history is
   * there): this space does not hold them, so "synced" must not read as if it did.
   */
  readonly waiting?: number;
};

export type SyncClientOptions = {
  readonly storage: SyncStorage;
  readonly config: SyncSettings;
  readonly transport: SyncTransport;
  readonly backoff?: BackoffOptions;
  /**
   * How long a push waits for more commits to join it. Default 0: a push goes out at once when
   * none is in flight, and what is committed while one is goes out together in the next.
   */
  readonly pushDelayMs?: number;
  /**
   * How often an unreachable server's health is asked. Default 1.2 s: jittered ±25 %, a server
   * back is seen within 1.5 s, so sync resumes within two seconds of it (issue 15's promise).
   */
  readonly probeMs?: number;
  /**
   * How long an acked event may stay unseen in a live feed before it is given back (the server
   * may have lost it in a failover). Default 5 s.
   */
  readonly verifyMs?: number;
  /**
   * How long the feed's echo of a push in flight waits for its answer before it is received as
   * usual (a push that hangs must not hold the feed). Default 2 s.
   */
  readonly echoWaitMs?: number;
  /**
   * How long the feed's cursor past messages that only echoed this device's own pushes may wait
   * to be stored (`echoCursor`). Default 2 s.
   */
  readonly echoCursorMs?: number;
  readonly onStatus?: (status: SyncStatus) => void;
  /** The server refused this device's token (it was removed from the space): stop for good. */
  readonly onRefused?: () => void;
};

/** How long one page of a stream's early history may take before its filling is given up. */
const fillTimeoutMs = 15_000;

/** Snapshot pages one join reads at most (a space of 5 million streams, with retries). */
const maxSnapshotPages = 20_000;

/** A push's stream in flight: what its echo waits for, and how its answer settles it. */
type InFlight = { readonly settle: (done: boolean) => void; readonly done: Promise<boolean> };

/** Thrown inside the feed loop when a stream's events skipped versions: catch up from 0. */
class Gap extends Error {}

/**
 * Keeps one device in step with its space (docs/architecture.md, "Sync rules"): pushes pending commands (one push in
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

/** How many applied events a run keeps (`SyncClient.applied`) before it starts over. */
const APPLIED_KEPT = 10_000;

/** An event as applied: its id at its place (the same id elsewhere is not the same event). */
const appliedKey = ({ stream, version, id }: EventEnvelope) =>
  `${stream}\u0000${version}\u0000${id}`;

export class SyncClient {
  private running = false;
  private online = true;
  private live = false;
  private lastError: string | undefined;
  private lastErrorCode: ErrorCode | undefined;
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
  /**
   * Pushes answered only with conflicts, one round after another: a rebase settles a conflict in
   * one round, so a second in a row waits, longer each time (another device writing the same
   * counters as fast, or a rebase that changes nothing: never a tight loop against the server).
   */
  private readonly conflictBackoff: Backoff;
  private conflictRounds = 0;
  private readonly witness: FeedWitness;
  /** Stretches the server lost: pushed again, before anything pending. */
  private readonly giveBacks: GiveBack[] = [];
  private verifyTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The feed's cursor past messages that were only echoes of this device's own pushes, confirmed
   * already: not stored at once (a transaction per push, for nothing new), but with the next
   * message that brings something, at most `echoCursorMs` after the first of them, or when the feed stops. Lost in a
   * crash, the echoes are read again, and confirm nothing twice.
   */
  private echoCursor:
    { space: string; cursor: string; timer: ReturnType<typeof setTimeout> } | undefined;
  /** The write of the feed's cursor under way, if any: the next waits for it. */
  private cursorWrite: Promise<void> | undefined;
  /**
   * The server's events this run has applied (received, or confirmed in memory, at the version
   * the server gives them; by stream, version and id): the second of a push's answer and its
   * echo in the feed, which carry the same events, is not applied again (no transaction, no
   * appends held). Bounded; forgotten on a catch-up from the start. An event it holds is stored,
   * confirmed, at that version: a confirmed event never moves, and a stream deleted here comes
   * back only in a catch-up from the start.
   */
  private readonly applied = new Map<string, Promise<boolean>>();

  constructor(private readonly options: SyncClientOptions) {
    this.feedBackoff = new Backoff(options.backoff);
    this.pushBackoff = new Backoff(options.backoff);
    this.conflictBackoff = new Backoff(options.backoff);
    this.witness = new FeedWitness({ verifyMs: options.verifyMs ?? 5_000, keep: 10_000 });
  }

  get config(): SyncSettings {
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
      ...(this.lastErrorCode === undefined ? {} : { lastErrorCode: this.lastErrorCode }),
      ...(this.tied.size === 0 ? {} : { waiting: this.tied.size }),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.feedDone = this.readBases().then(() => {
      if (this.tied.size > 0) this.emit();
      return this.feedLoop();
    });
    this.nudge();
  }

  /** This space's counters joined in a model shape this build no longer has (read at start). */
  private unreadable: StreamId[] = [];

  /**
   * Counters joined from snapshots in a model shape this build no longer has (an update since)
   * cannot load: their history is read from the server before anything else is received, once
   * per run. Until it can be, the feed waits (nothing is received past them).
   */
  private async readUnreadable(): Promise<void> {
    if (this.unreadable.length === 0) return;
    const left = await this.fillBases(this.unreadable);
    if (left > 0)
      throw new TallyError(
        'unavailable',
        `This version of Tally reads the history of ${left === 1 ? 'one counter' : `${left} counters`} from the sync server before syncing, and it cannot be reached.`,
      );
    this.unreadable = [];
  }

  /** The bases this run must know of, read once as it starts: tied to another space, or unreadable. */
  private async readBases(): Promise<void> {
    const { storage, config } = this.options;
    try {
      const bases = await storage.bases();
      this.tied = new Set(bases.filter((b) => b.space !== config.space).map((b) => b.stream));
      this.unreadable = bases
        .filter((b) => b.space === config.space && !b.readable)
        .map((b) => b.stream);
    } catch {
      // The database is closing; pushes skip such streams one by one (`readPush`).
    }
  }

  /** Stops both loops and waits for them; what was taken is finished or left for next time. */
  async stop(): Promise<void> {
    this.running = false;
    this.feed?.abort();
    clearTimeout(this.verifyTimer);
    this.verifyTimer = undefined;
    this.wakeAll();
    await Promise.allSettled([this.feedDone, this.pushDone]);
    // Not stored (the database closed under it, say): as after a crash, those echoes are read
    // again. Stopping must not fail for it: leaving or joining goes on from here.
    await this.writeEchoCursor().catch(() => undefined);
    this.emit();
  }

  /** Stores the cursor past echoes not stored yet (a write already under way is waited for). */
  private async writeEchoCursor(): Promise<void> {
    const pending = this.takeEchoCursor();
    if (pending) await this.storeCursor(pending.space, pending.cursor);
    await this.cursorWrite?.catch(() => undefined);
  }

  /** The cursor past echoes, no longer waiting to be stored. */
  private takeEchoCursor(): { space: string; cursor: string } | undefined {
    const pending = this.echoCursor;
    if (pending) clearTimeout(pending.timer);
    this.echoCursor = undefined;
    return pending;
  }

  /**
   * Keeps `cursor`, past echoes alone, to be stored at the latest `echoCursorMs` after the first
   * such message that is not stored yet: echoes that keep coming move the cursor, not the time.
   */
  private holdEchoCursor(space: string, cursor: string): void {
    if (this.echoCursor?.space === space) {
      this.echoCursor.cursor = cursor;
      return;
    }
    this.takeEchoCursor();
    this.echoCursor = {
      space,
      cursor,
      timer: setTimeout(
        () => void this.writeEchoCursor().catch(() => undefined),
        this.options.echoCursorMs ?? echoCursorMs,
      ),
    };
  }

  /**
   * Stores the feed's cursor, after any write of it under way, in place of one past echoes still
   * waiting: writes of the cursor land in the order they were asked for.
   */
  private async storeCursor(space: string, cursor: string): Promise<void> {
    this.takeEchoCursor();
    const write = (this.cursorWrite ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.options.storage.writeFeedCursor(space, cursor));
    this.cursorWrite = write;
    try {
      await write;
    } finally {
      if (this.cursorWrite === write) this.cursorWrite = undefined;
    }
  }

  /** New local commits (or a rebase) may have something to push. */
  nudge(): void {
    this.pushRequested = true;
    // A push about to start counts what is pending once it has read what to send: counting
    // first would queue a read ahead of the push's, on the way of every command to the others.
    if (!this.running || this.pushing || !this.online || !this.caughtUp) void this.refreshPending();
    if (!this.running || this.pushing) return;
    this.pushing = true;
    // Said at once: a commit waiting to go out is not "synced", even before its push is read.
    this.emit();
    // In a task of its own: a commit asks for its push before its ack is posted (both follow
    // the transaction's completion), and the push's work (what to send, `fetch`) went first:
    // a command's ack took 6.1 ms on a device that syncs, 3.0 offline (bench/device-sync.ts).
    this.pushDone = nextTask()
      .then(() => this.pushLoop())
      .finally(() => {
        this.pushing = false;
        // Nothing waits out a backoff any more: the probe has no push to wake.
        this.pushFailed = false;
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
      // Counters tied to another space wait for it: they are not this space's to sync.
      this.pending = await this.options.storage.pendingCount(this.tied);
      this.emit();
    } catch {
      // The database is closing; the next status will tell.
    }
  }

  /** True, and the owner told, when the server no longer takes this device's token. */
  private refused(error: unknown): boolean {
    if (!(error instanceof TallyError) || error.code !== 'unauthorized') return false;
    if (this.running) {
      this.running = false;
      this.feed?.abort();
      this.wakeAll();
      this.options.onRefused?.();
    }
    return true;
  }

  private fail(error: unknown): void {
    this.live = false;
    ({ message: this.lastError, code: this.lastErrorCode } = toTallyError(error));
    this.emit();
    // A server that said when to come back (429) is up: its health would only cut that short.
    if (!(error instanceof RetryLater)) this.probe();
  }

  /** Tries again now: what "Retry now" does, and what a server that answers again sets off. */
  retryNow(): void {
    this.feedBackoff.reset();
    this.retryPushNow();
  }

  /** A push waiting out its backoff goes now; the feed keeps its own. */
  private retryPushNow(): void {
    this.pushBackoff.reset();
    this.wakeAll();
  }

  private probing = false;
  /**
   * The last push could not be taken (`unavailable`) and waits out its backoff: the probe wakes
   * it. Cleared when a push is answered or the push loop ends.
   */
  private pushFailed = false;

  /**
   * While the server cannot be reached, or a push could not be taken, asks its health about every
   * two seconds (one small request, no token): once it answers again, the loops try again at once
   * instead of waiting out a backoff that may have grown to half a minute. So sync resumes within
   * about two seconds, also where the live feed stayed open while pushes were refused (a Redis
   * failover). It wakes them at its first answer (not when the server answered just now: it took
   * a live stream and ended it at once) and then only when the server was seen down in
   * between: a server that answers its health and refuses (429, a fault of its own) leaves the
   * loops to their backoff, instead of being asked again every second or so.
   */
  private probe(wakeAtFirstAnswer = true): void {
    if (this.probing) return;
    this.probing = true;
    const { transport, config, probeMs = 1_200 } = this.options;
    void (async () => {
      try {
        const wanted = () => this.running && this.online && (!this.live || this.pushFailed);
        let wasDown = wakeAtFirstAnswer;
        while (wanted()) {
          // Jittered: devices that lost the same server do not all ask in the same instant.
          await new Promise((resolve) => setTimeout(resolve, probeMs * (0.75 + Math.random() / 2)));
          if (!wanted()) break;
          const up = await transport.healthy(config.origin);
          if (!wanted()) break;
          if (up && wasDown) this.retryNow();
          wasDown = !up;
        }
      } finally {
        this.probing = false;
      }
    })();
  }

  /**
   * Waits `ms`, or less when woken (online again, stopping). A stopped client never waits: a
   * push that fails after `stop()` woke everything would otherwise sleep out its backoff, and
   * `stop()` with it (seen under load: a minute-long backoff held a device's close a minute).
   */
  private async pause(ms: number): Promise<void> {
    if (!this.running) return;
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
    const { storage } = this.options;
    while (this.running) {
      // A step's end is a microtask later than the same code inline: harmless here, as what
      // comes next reads what it acts on afresh (storage, then the check below), and what must
      // not yield (that check, then the push sent) stays in one step.
      const ready = await this.readyToPush();
      if (ready === 'stop') return;
      if (ready === 'again') continue;
      let streams, more;
      try {
        ({ streams, more } = await storage.readPush(new Set([...this.diverged, ...this.tied])));
      } catch (error) {
        this.fail(error);
        return;
      }
      if (streams.length === 0) {
        // Nothing left to push (the feed confirmed what a failed push had sent): a failure
        // before is no longer this device's state while the feed is live.
        if (this.live) this.clearError();
        // The feed may have confirmed what was pending since the count was last read.
        await this.refreshPending();
        return;
      }
      // Went offline while it read (commits made since the check in `readyToPush` are in what
      // it read): it goes out with the next catch-up instead.
      if (!this.online || !this.caughtUp) {
        this.pushRequested = true;
        void this.refreshPending();
        continue;
      }
      // No yield between the check above and the push sent: `pushBatch` sends before its first
      // await.
      if (!(await this.pushBatch(streams, more))) return;
      await this.refreshPending();
      if (!this.pushRequested) return;
    }
  }

  /**
   * Waits until a push may go out (caught up, online, `pushDelayMs` past), then gives back what
   * the server lost. Answers 'go' to read what to push, 'again' to start over (offline meanwhile,
   * or giving back failed and was waited out), 'stop' when the loop ends (stopped, or refused).
   */
  private async readyToPush(): Promise<'go' | 'again' | 'stop'> {
    await this.untilCaughtUp();
    if (!this.running) return 'stop';
    // Commits arriving together go out together: one commit notice, or one push in flight.
    const delay = this.options.pushDelayMs ?? 0;
    if (delay > 0) await this.pause(delay);
    // Went offline while waiting: nothing goes out until the next catch-up.
    if (!this.online || !this.caughtUp) {
      void this.refreshPending();
      return 'again';
    }
    this.pushRequested = false;
    try {
      // What the server lost goes back first: pending commands were decided after it.
      await this.giveBackAll();
    } catch (error) {
      if (this.refused(error)) return 'stop';
      await this.failedPush(error);
      return 'again';
    }
    return 'go';
  }

  /**
   * Pushes `streams` (read just now, `more` left behind them) and settles the answer; a failure
   * is told and waited out (`failedPush`). Answers false when the server refused this device's
   * token: the push loop ends.
   */
  private async pushBatch(streams: PushStream[], more: boolean): Promise<boolean> {
    const { transport, config } = this.options;
    // The feed's echo of a push usually comes before its answer: it waits for the answer (a
    // while at most) instead of receiving, in a transaction, what an accepted push confirms in
    // memory.
    const settled = this.inFlightPush(streams);
    try {
      const answer = transport.push(config, { streams });
      void this.refreshPending();
      const { results } = await answer;
      await this.pushAnswered(streams, more, results, settled);
    } catch (error) {
      // Its echo (the server may have stored it) is received now, not after the backoff.
      for (const { settle } of settled.values()) settle(false);
      if (this.refused(error)) return false;
      await this.failedPush(error);
    } finally {
      for (const { settle } of settled.values()) settle(false);
    }
    return true;
  }

  /**
   * Settles a push's answer, stream by stream (`settlePushed`), and what it tells of the loop:
   * the backoff starts again, whether to read again at once, and a wait after conflicts in a row.
   * Its streams still in flight are settled only once it is done (`pushBatch`).
   */
  private async pushAnswered(
    streams: readonly PushStream[],
    more: boolean,
    results: readonly PushResult[],
    settled: ReadonlyMap<StreamId, InFlight>,
  ): Promise<void> {
    const outcomes = await Promise.all(
      results.map((result) => this.settlePushed(streams, result, settled)),
    );
    // Conflict events start at the confirmed head, so a gap means the feed must catch up.
    if (outcomes.some((outcome) => outcome.type === 'gap')) this.requestResync();
    this.pushBackoff.reset();
    this.pushFailed = false;
    if (this.live) this.clearError();
    // Read again at once only when something may be left: commands the push had no room
    // for, or what a conflict rebased. Commits made meanwhile asked for it (`nudge`).
    if (more || results.some((result) => result.status !== 'accepted')) this.pushRequested = true;
    if (results.length > 0 && results.every((result) => result.status === 'conflict')) {
      if (++this.conflictRounds > 1) await this.pause(this.conflictBackoff.next());
    } else {
      this.conflictRounds = 0;
      this.conflictBackoff.reset();
    }
  }

  /**
   * The events of a push about to go out are remembered as being applied, until its answer says
   * whether they were (`settled`, by stream: true once confirmed in memory; anything else,
   * false, and the echo is received as usual), or `echoWaitMs` passed.
   */
  private inFlightPush(streams: readonly PushStream[]): Map<StreamId, InFlight> {
    const settled = new Map<StreamId, InFlight>();
    for (const { stream, events } of streams) {
      let settle!: (done: boolean) => void;
      const done = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.options.echoWaitMs ?? 2_000);
        settle = (value) => {
          clearTimeout(timer);
          resolve(value);
        };
      });
      settled.set(stream, { settle, done });
      this.remember(events as readonly EventEnvelope[], done);
    }
    return settled;
  }

  /** What one stream's answer to a push means here: applied through its mailbox like any. */
  private async settlePushed(
    streams: readonly PushStream[],
    result: PushResult,
    settled: ReadonlyMap<StreamId, InFlight>,
  ): Promise<ReceiveOutcome | { readonly type: 'applied' }> {
    const { storage } = this.options;
    const sent = streams.find((s) => s.stream === result.stream);
    if (!sent) throw new TallyError('unavailable', 'The server answered for a stream never sent.');
    const { settle, done: waited } = settled.get(result.stream)!;
    // Redis lost events and someone else wrote at those versions since: the server's history
    // and ours differ below the confirmed head. Never guess; say so.
    if (result.status === 'diverged') {
      this.diverged.add(result.stream);
      return { type: 'applied' };
    }
    // The server holds fewer events than it once accepted from us: it lost some (Redis
    // restarted without its last second). Give them back, then push as usual.
    if (result.status === 'conflict' && result.version < sent.expectedVersion) {
      await this.giveBack(
        {
          stream: result.stream,
          from: result.version,
          to: sent.expectedVersion,
        },
        true,
      );
      return { type: 'applied' };
    }
    if (result.status === 'accepted') {
      this.acked(sent.events);
      // Accepted: the server now holds exactly the events sent, at their versions. While their
      // commands are still behind the store's appends (the usual case: pushed as soon as they
      // commit), they are confirmed there in memory, with no transaction.
      if (storage.confirmPushed(result.stream, sent.events)) {
        settle(true);
        return { type: 'applied' };
      }
      // Accepted, and not confirmable in memory (its commands were written behind meanwhile):
      // received once, here, and an echo waiting for this answer waits for that receive;
      // unless the echo stopped waiting and is received already.
      const events = sent.events as readonly EventEnvelope[];
      if (events.some((event) => this.applied.get(appliedKey(event)) !== waited)) {
        settle(false);
        return this.receiveOnce(result.stream, events);
      }
      const { receiving, done } = this.receiveNow(result.stream, events);
      void done.then(settle);
      return receiving;
    }
    // Not accepted: no echo of these events comes; one waiting on them is received as usual.
    settle(false);
    // Conflict: the events the device has not seen; applying them rebases. They are the
    // server's, decoded (the server is an edge). Received by the store even where this client
    // remembers them as applied: had they been, it would not have pushed below them. (A backup
    // imported over a counter deleted forever, whose tombstone the feed brought earlier: taken
    // as an echo, the tombstone was never applied again, and the import pushed without end.)
    return this.receiveNow(result.stream, result.events.map(storage.decodeRemote)).receiving;
  }

  /**
   * A failed push says so, but leaves the feed's state alone: the live stream may well be open
   * still (a Redis failover refuses pushes for a moment and keeps streams). Then it backs off.
   */
  private async failedPush(error: unknown): Promise<void> {
    // A nudge that started this push left the count to it.
    void this.refreshPending();
    const failed = toTallyError(error);
    this.lastError = failed.message;
    this.lastErrorCode = failed.code;
    this.emit();
    // The server unreachable or not ready (a failover): its health says when to try again. A
    // refusal (too many requests, a full space) waits out the backoff as it is.
    this.pushFailed = failed.code === 'unavailable';
    if (this.pushFailed) this.probe();
    await this.pause(waitAfter(error, this.pushBackoff));
    this.pushRequested = true;
  }

  /** Acked events are watched until the feed brings them back (feed-witness.ts). */
  private acked(events: readonly EventEnvelope[]): void {
    this.witness.ackedNow(events, Date.now());
    this.scheduleVerify();
  }

  private scheduleVerify(): void {
    if (this.verifyTimer !== undefined || !this.running) return;
    this.verifyTimer = setTimeout(() => {
      this.verifyTimer = undefined;
      if (!this.running) return;
      // Only a live feed can have brought them back; offline, they wait for the catch-up.
      const overdue = this.live ? this.witness.overdue(Date.now()) : [];
      if (overdue.length > 0) {
        this.giveBacks.push(...overdue);
        this.nudge();
      }
      if (this.witness.waiting()) this.scheduleVerify();
    }, this.options.verifyMs ?? 5_000);
  }

  private async giveBackAll(): Promise<void> {
    while (this.giveBacks.length > 0) {
      await this.giveBack(this.giveBacks[0]!);
      this.giveBacks.shift();
    }
  }

  /**
   * Pushes this device's confirmed events of one stretch again, same ids and versions: the
   * server keeps a copy it holds (a retry) and stores one it lost. Where it lost even more, the
   * stretch starts lower; where it holds other events at those versions, they are received like
   * any conflict (a split history is then told, never overwritten).
   */
  private async giveBack({ stream, to, ...lost }: GiveBack, serverSaid = false): Promise<void> {
    const { storage, transport, config } = this.options;
    let { from } = lost;
    if (this.diverged.has(stream) || to <= from) return;
    // Joined from a snapshot, this device holds nothing below its base to give back. A server
    // that says it holds less than that lost what nobody here can restore: a split history,
    // told. A guess from the feed (`serverSaid` false) starts at the base instead.
    const floor = await storage.heldFrom(stream);
    if (from < floor) {
      if (serverSaid) {
        this.split(stream);
        return;
      }
      from = floor;
      if (to <= from) return;
    }
    for (const push of await storage.readRestore(stream, from, to)) {
      const [result] = (await transport.push(config, { streams: [push] })).results;
      if (!result || result.stream !== stream)
        throw new TallyError('unavailable', 'The server answered for a stream never sent.');
      if (result.status === 'accepted') {
        this.restored += push.events.length;
        continue;
      }
      if (result.status === 'diverged') {
        this.split(stream);
        return;
      }
      if (result.version < push.expectedVersion) {
        await this.giveBack({ stream, from: result.version, to }, true);
        return;
      }
      try {
        await storage.receive(stream, result.events.map(storage.decodeRemote));
      } catch (error) {
        if (!(error instanceof DivergedError)) throw error;
        this.split(stream);
      }
      return;
    }
    this.witness.restored({ stream, from, to });
  }

  private split(stream: StreamId): void {
    this.diverged.add(stream);
    this.lastError = divergedError(stream).message;
    this.lastErrorCode = divergedError(stream).code;
  }

  /** Events given back to a server that may have lost them (it keeps copies it holds). */
  restored = 0;

  /** Streams whose history on the server differs from ours: never pushed again by this run. */
  readonly diverged = new Set<StreamId>();

  /**
   * Streams joined from another space's snapshot, whose history below it this device could not
   * take along: only that space can take their events (read once the client starts).
   */
  private tied = new Set<StreamId>();

  /** Things went well: the last error is gone, unless a split history stays to be told. */
  private clearError(): void {
    const [split] = this.diverged;
    this.lastError = split === undefined ? undefined : divergedError(split).message;
    this.lastErrorCode = split === undefined ? undefined : divergedError(split).code;
  }

  /**
   * Receives the server's `events` of `stream`, unless this run applied (or is applying) every
   * one of them already: then it waits for that instead (`applied`).
   */
  private async receiveOnce(
    stream: StreamId,
    events: readonly EventEnvelope[],
  ): Promise<ReceiveOutcome | { readonly type: 'applied'; readonly echo?: true }> {
    const earlier = events.map((event) => this.applied.get(appliedKey(event)));
    if (earlier.length > 0 && earlier.every((done) => done !== undefined)) {
      if ((await Promise.all(earlier)).every(Boolean)) return { type: 'applied', echo: true };
    }
    return this.receiveNow(stream, events).receiving;
  }

  /** Receives the server's `events` of `stream`, remembered as being applied until they are. */
  private receiveNow(
    stream: StreamId,
    events: readonly EventEnvelope[],
  ): { readonly receiving: Promise<ReceiveOutcome>; readonly done: Promise<boolean> } {
    const receiving = this.options.storage.receive(stream, events);
    const done = receiving.then(
      (outcome) => outcome.type !== 'gap',
      () => false,
    );
    this.remember(events, done);
    return { receiving, done };
  }

  /** `events` are applied (or being applied: `done` tells whether they were). */
  private remember(events: readonly EventEnvelope[], done: Promise<boolean>): void {
    if (this.applied.size + events.length > APPLIED_KEPT) this.applied.clear();
    for (const event of events) this.applied.set(appliedKey(event), done);
  }

  private requestResync(): void {
    this.resyncFromStart = true;
    this.feed?.abort();
  }

  private async feedLoop(): Promise<void> {
    while (this.running) {
      await this.untilOnline();
      if (!this.running) return;
      const abort = (this.feed = new AbortController());
      try {
        const after = await this.catchUpFrom(abort.signal);
        // A microtask later than inline, harmlessly: `readFeed` starts by asking for a page (an
        // abort or a resync asked meanwhile fails that request, as it would have failed it in
        // flight); what must not yield stays within it.
        await this.readFeed(after, abort.signal);
      } catch (error) {
        if (!this.running) return;
        // The live feed went back (`FeedWentBack`): the catch-up finds out where, and gives back.
        if (error instanceof Gap || error instanceof FeedWentBack || abort.signal.aborted) {
          this.live = false;
          continue;
        }
        if (this.refused(error)) return;
        this.fail(error);
        await this.pause(waitAfter(error, this.feedBackoff));
      }
    }
  }

  /**
   * Where the feed's catch-up starts: the stored cursor, '0' after a gap, or where the space's
   * snapshots leave off when joining. Counters this build cannot load are read first.
   */
  private async catchUpFrom(signal: AbortSignal): Promise<string> {
    const { storage, config } = this.options;
    await this.readUnreadable();
    // Catch up page by page from the stored cursor (or from the start after a gap)…
    const fromStart = this.resyncFromStart;
    if (fromStart) this.applied.clear();
    await this.writeEchoCursor();
    const after = fromStart ? '0' : await storage.readFeedCursor(config.space);
    this.resyncFromStart = false;
    // …or, joining, from where the space's snapshots leave off.
    if (after === '0' && !fromStart) return this.joinFromSnapshots(signal);
    return after;
  }

  /**
   * Catches up page by page from `after`, then follows the live feed from there. One step on
   * purpose: nothing yields between the last page applied, the device told live (`caughtUpNow`),
   * and the live stream asked for (`followLive` is called, and asks, before its first await).
   */
  private async readFeed(after: string, signal: AbortSignal): Promise<void> {
    const { transport, config } = this.options;
    for (;;) {
      const page = await transport.pull(config, after, signal);
      // The feed no longer holds this device's cursor (an older server: its head is before
      // it): Redis lost its last writes, even if others wrote since.
      if (pageWentBack(page, after)) {
        this.giveBacks.push(...this.witness.wentBack(page.cursor));
        await this.storeCursor(config.space, page.cursor);
      }
      await this.apply(page.entries);
      after = page.cursor;
      if (!page.more) break;
    }
    // …then follow the live feed from there.
    const failing = this.caughtUpNow();
    await this.followLive(after, signal, failing);
  }

  /**
   * Caught up: pushes wait no more, the device is live and its last failure over; a push is asked
   * for. Answers whether a failure was told until now (`failing`).
   */
  private caughtUpNow(): boolean {
    if (!this.caughtUp) {
      this.caughtUp = true;
      this.wakeAll();
    }
    this.live = true;
    const failing = this.lastError !== undefined;
    this.clearError();
    this.emit();
    this.nudge();
    return failing;
  }

  /**
   * Follows the live feed from `after` until the server ends the stream, then backs off before
   * the feed loop reconnects. `failing`: a failure was told before this catch-up.
   */
  private async followLive(after: string, signal: AbortSignal, failing: boolean): Promise<void> {
    const { transport, config } = this.options;
    // Once the server has taken the live feed (not when it refuses it, 429: the backoff goes
    // on growing): back after a failure, a push waiting out its backoff goes now, not in a
    // minute (the health probe, which would have woken it, stops once the feed is live).
    let openedAt: number | undefined;
    let delivered = false;
    const opened = () => {
      openedAt = Date.now();
      if (failing) this.retryPushNow();
    };
    // A stream that served (it brought entries, or stayed open a while) starts the backoff
    // again when it ends, however it ends; one taken and ended at once with nothing (a server
    // or proxy that closes every stream) lets it grow.
    let served: boolean;
    try {
      for await (const entries of transport.live(config, after, signal, opened)) {
        delivered = true;
        await this.apply(entries);
        after = entries.at(-1)!.cursor;
      }
    } finally {
      served = delivered || (openedAt !== undefined && Date.now() - openedAt >= servedFeedMs);
      if (served) this.feedBackoff.reset();
    }
    // The server ended the stream (it restarts, say): back off, then reconnect. After one
    // that did not serve, so does the health probe, which saw the server answer just now: it
    // wakes the loops only once it has seen the server down and back. Otherwise every device
    // would ask again within half a second, for as long as the server did that. Its wait
    // grows, but to `servedFeedMs` at most: a proxy that closes quiet streams sooner than
    // the server's heartbeat leaves the device live most of the time, not one in thirty.
    this.live = false;
    this.emit();
    this.probe(served);
    const wait = this.feedBackoff.next();
    if (this.running) await this.pause(served ? wait : Math.min(wait, servedFeedMs));
  }

  /**
   * Joins the space from its snapshots (docs/architecture.md, "Joining a space"): every page,
   * each stream installed as a base or read from its events, then the feed is followed from the
   * first page's cursor (what comes after it may repeat what a snapshot counts: held already).
   * Answers that cursor, stored; '0' when the server cannot answer snapshots (the feed is then
   * read from its start, as before). A join cut short is taken up again on the next run: streams
   * based already are held, the feed cursor is stored only at the end, and the feed is followed
   * from the first attempt's cursor.
   */
  private async joinFromSnapshots(signal: AbortSignal): Promise<string> {
    this.joining = true;
    try {
      return await this.joinPages(signal);
    } finally {
      this.joining = false;
    }
  }

  /** True while a join from snapshots installs streams (a backup waits for it to end). */
  joining = false;

  private async joinPages(signal: AbortSignal): Promise<string> {
    const { storage, transport, config } = this.options;
    let page = '0';
    // An attempt cut short before: the feed is followed from where it started, so what was
    // deleted or written between the two attempts reaches the streams it installed.
    let cursor = await storage.readJoinCursor(config.space);
    for (let asked = 0; ; asked++) {
      // The server is an edge: a page that never ends is given up on, for the plain feed.
      if (asked >= maxSnapshotPages) return '0';
      const answer = await transport.snapshots(config, page, signal);
      if (!answer) return '0';
      if (cursor === undefined) {
        cursor = answer.cursor;
        await storage.writeJoinCursor(config.space, cursor);
      }
      const fromEvents = await storage.installBases(config.space, answer.streams);
      for (const { stream, version } of [...fromEvents, ...answer.histories])
        await this.readStream(stream, version, signal);
      if (answer.next === undefined) break;
      page = answer.next;
    }
    await storage.finishJoin(config.space, cursor);
    return cursor;
  }

  /** Receives one stream's events from the server up to at least `version`, page by page. */
  private async readStream(stream: StreamId, version: number, signal: AbortSignal): Promise<void> {
    const { storage, transport, config } = this.options;
    if (this.diverged.has(stream)) return;
    let after = await storage.confirmedOf(stream);
    while (after < version) {
      const page = await transport.streamEvents(config, stream, after, signal);
      // Deleted forever meanwhile: the feed brings its tombstone.
      if (!page || page.events.length === 0) return;
      let outcome;
      try {
        outcome = await storage.receive(stream, page.events.map(storage.decodeRemote));
      } catch (error) {
        if (!(error instanceof DivergedError)) throw error;
        this.split(stream);
        return;
      }
      // Not after the confirmed head (it moved meanwhile): the feed catches it up.
      if (outcome.type === 'gap' || outcome.confirmed <= after) return;
      after = outcome.confirmed;
      if (!page.more) return;
    }
  }

  /**
   * Reads from the server the history below the base of streams joined from this space's
   * snapshots (all of them, or those named), so this device holds them whole: before it leaves
   * the space, exports a backup, or shows a history. Answers how many of this space's stay
   * based (the server could not be reached, or gave a history that does not add up).
   */
  async fillBases(only?: readonly StreamId[]): Promise<number> {
    const { storage, transport, config } = this.options;
    const wanted = only && new Set(only);
    // Joined from another space: only that one holds their history.
    const bases = (await storage.bases()).filter(
      (base) => base.space === config.space && (!wanted || wanted.has(base.stream)),
    );
    let left = 0;
    for (const { stream, version } of bases) {
      try {
        const events: EventEnvelope[] = [];
        let deleted = false;
        while (events.length < version) {
          const page = await transport.streamEvents(
            config,
            stream,
            events.length,
            AbortSignal.timeout(fillTimeoutMs),
          );
          if (!page) {
            // Deleted forever on the server, and its tombstone not received here yet: what the
            // tombstone would do is done now (pending changes to it are told as dropped).
            await storage.dropDeleted(stream);
            deleted = true;
            break;
          }
          if (page.events.length === 0) break;
          events.push(...page.events.map(storage.decodeRemote));
          if (!page.more) break;
        }
        if (deleted) continue;
        if (events.length < version) throw new TallyError('unavailable', `${stream} is gone.`);
        await storage.fillBase(stream, events.slice(0, version));
      } catch {
        left++;
      }
    }
    return left;
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
    const { storage, config } = this.options;
    const byStream = new Map<StreamId, EventEnvelope[]>();
    const seen: { cursor: string; id: string; stream: StreamId; version: number }[] = [];
    for (const { cursor, event } of entries) {
      let list = byStream.get(event.stream);
      if (!list) byStream.set(event.stream, (list = []));
      const decoded = storage.decodeRemote(event);
      list.push(decoded);
      seen.push({ cursor, id: decoded.id, stream: decoded.stream, version: decoded.version });
    }
    const outcomes = await Promise.all(
      [...byStream]
        .filter(([stream]) => !this.diverged.has(stream))
        .map(([stream, events]) =>
          this.receiveOnce(stream, events).catch((error: unknown) => {
            // One stream whose history split must not stop the feed for all the others.
            if (!(error instanceof DivergedError)) throw error;
            this.split(stream);
            return { type: 'applied' as const };
          }),
        ),
    );
    if (outcomes.some((outcome) => outcome.type === 'gap')) {
      this.resyncFromStart = true;
      throw new Gap('A stream skipped versions; catching up from the start.');
    }
    // Only what this device had applied already (its own pushes' echoes, say): the cursor is
    // stored later, with what comes next (`echoCursor`).
    if (outcomes.length === byStream.size && outcomes.every((outcome) => 'echo' in outcome))
      this.holdEchoCursor(config.space, last.cursor);
    else await this.storeCursor(config.space, last.cursor);
    this.witness.delivered(seen);
    // Echoes of this device's own pushes confirm pending commands without writing an event, so
    // no commit tells the count: read it (a push waiting out a backoff would leave it stale).
    if (this.pending > 0) await this.refreshPending();
  }
}

/**
 * A live stream open this long served, though it brought nothing (a quiet space, which a proxy
 * may close after a minute or two): the feed's backoff starts again when it ends.
 */
const servedFeedMs = 10_000;

/** How long the feed's cursor past echoes alone may wait to be stored (`echoCursor`). */
const echoCursorMs = 2_000;

/** Resolves in a later task, after what the current one posts. */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** How long to wait after `error`: the backoff's next delay, or what a 429 asked, if longer. */
const waitAfter = (error: unknown, backoff: Backoff): number =>
  Math.max(backoff.next(), error instanceof RetryLater ? error.retryAfterMs : 0);
