import { decideBatch, type Decider, type Typed } from './decider.ts';
import { NO_STREAM, type EventEnvelope, type StreamId } from './envelope.ts';
import { TallyError, toTallyError } from './errors.ts';
import type { AnyEvent, EventStore, ReceiveOutcome, Snapshot, StoredEvent } from './event-store.ts';
import { rebase } from './rebase.ts';

export type ExecuteResult<E extends AnyEvent> =
  | {
      readonly type: 'accepted';
      readonly stream: StreamId;
      readonly version: number;
      readonly events: readonly StoredEvent<E>[];
    }
  | { readonly type: 'rejected'; readonly code: 'rejected'; readonly reason: string };

/** A command decided as it arrives, or a pending command re-decided after sync. */
export type DecisionSituation = 'command' | 'sync';

export type ActorEnvironment<S, C extends Typed, E extends AnyEvent & Typed, Ctx> = {
  readonly decider: Decider<S, C, E, Ctx>;
  readonly store: EventStore<E>;
  readonly snapshotEvery: number;
  readonly schemaOf: (type: E['type']) => number;
  /**
   * What `decide` sees beyond the aggregate. `sync` when pending commands are re-decided on top
   * of the server's events: a rule may then keep what a person already did (a name another
   * device took meanwhile is settled afterwards, not a reason to drop the counter).
   */
  readonly context: (stream: StreamId, situation: DecisionSituation) => Ctx;
  readonly validateState?: (state: unknown) => S;
  readonly device: string;
  readonly now: () => number;
  readonly newId: () => string;
  /**
   * Told synchronously of every state the actor holds (after a load, after each decision), so
   * an index across aggregates (unique names) sees a decision before the next one is made.
   */
  readonly onState?: (stream: StreamId, state: S) => void;
  /**
   * Reads stored commands back for a rebase (storage is an edge). Without it, sync's remote
   * work is refused: the actor cannot re-decide what it cannot read.
   */
  readonly parseCommands?: (raw: readonly unknown[]) => readonly C[];
  /** Names the aggregate in a rejection after sync. */
  readonly label?: (state: S, commands: readonly C[]) => string | undefined;
};

type CommandJob<C> = {
  readonly kind: 'command';
  readonly commands: readonly C[];
  readonly commandId: string;
  readonly resolve: (result: ExecuteResult<AnyEvent>) => void;
  readonly reject: (error: TallyError) => void;
};

/** The server's events for this stream; runs in the same mailbox as commands, in turn. */
type ReceiveJob<E extends AnyEvent> = {
  readonly kind: 'receive';
  readonly events: readonly EventEnvelope<E>[];
  readonly recheck: boolean;
  readonly resolve: (outcome: ReceiveOutcome<E>) => void;
  readonly reject: (error: TallyError) => void;
};

/**
 * Work on the stream's stored records done outside the actor (a backup imported, the stream
 * deleted forever), in turn with its commands: nothing of the stream is decided meanwhile, and
 * the actor loads the stream again afterwards.
 */
type ExclusiveJob = {
  readonly kind: 'exclusive';
  readonly work: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: TallyError) => void;
};

type Job<C, E extends AnyEvent> = CommandJob<C> | ReceiveJob<E> | ExclusiveJob;

/**
 * One aggregate, in memory: the seed's GenServer. Commands wait in a mailbox and are decided
 * strictly one after another against the in-memory state, so a loaded aggregate costs O(1) per
 * command. Decisions are pipelined: a command is decided as soon as the one before it has been
 * decided, and its commit joins the store's next group commit; its caller is acked only once
 * that commit is durable.
 */
const settledCommit: Promise<unknown> = Promise.resolve();

export class AggregateActor<S, C extends Typed, E extends AnyEvent & Typed, Ctx> {
  private state: S;
  private version = NO_STREAM;
  /** The stream version the newest snapshot was taken at. */
  private snapshotAt = NO_STREAM;
  private loaded = false;
  /** Set when a commit failed: in-memory state may be ahead of the store, so reload first. */
  private stale = false;
  private readonly mailbox: Job<C, E>[] = [];
  private draining = false;
  private inFlight = 0;
  private settle: (() => void) | undefined;

  constructor(
    readonly stream: StreamId,
    private readonly env: ActorEnvironment<S, C, E, Ctx>,
  ) {
    this.state = env.decider.initialState();
  }

  /** Idle actors hold no queued or unacknowledged work and may be evicted. */
  get idle(): boolean {
    return this.mailbox.length === 0 && !this.draining && this.inFlight === 0;
  }

  get currentVersion(): number {
    return this.version;
  }

  execute(commands: readonly C[], commandId: string): Promise<ExecuteResult<E>> {
    return new Promise<ExecuteResult<E>>((resolve, reject) => {
      this.mailbox.push({
        kind: 'command',
        commands,
        commandId,
        resolve: resolve as (result: ExecuteResult<AnyEvent>) => void,
        reject,
      });
      if (!this.draining) void this.drain();
    });
  }

  /**
   * Applies the server's events (and rebases the pending suffix when they collide with it).
   * Queued behind the commands already taken and ahead of later ones, so remote and local work
   * for one aggregate never interleave.
   */
  receive(events: readonly EventEnvelope<E>[], recheck = false): Promise<ReceiveOutcome<E>> {
    return new Promise<ReceiveOutcome<E>>((resolve, reject) => {
      this.mailbox.push({ kind: 'receive', events, recheck, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  /**
   * Runs `work` while this actor decides nothing: after the commands taken before it are durable,
   * before any taken after it. The stream is loaded again afterwards, whatever `work` wrote.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.mailbox.push({
        kind: 'exclusive',
        work,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (!this.draining) void this.drain();
    });
  }

  private async runExclusive(job: ExclusiveJob): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.settle = resolve));
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await job.work() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // Loaded again before the job is answered: whoever waits for it sees the rules told.
    try {
      await this.load();
    } catch {
      this.stale = true;
    }
    if (outcome.ok) job.resolve(outcome.value);
    else job.reject(toTallyError(outcome.error));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.mailbox.length > 0 || this.stale) {
        if (!this.loaded || this.stale) {
          try {
            await this.load();
          } catch (error) {
            // Without state nothing can be decided: fail what is waiting, keep nothing.
            const failure = toTallyError(error);
            for (const job of this.mailbox.splice(0)) job.reject(failure);
            return;
          }
        }
        // Everything in the mailbox now is decided in this one synchronous run, so commands
        // that arrived together reach the store together and share one transaction.
        while (this.mailbox.length > 0 && !this.stale) {
          const job = this.mailbox.shift()!;
          if (job.kind === 'command') this.decide(job);
          else if (job.kind === 'exclusive') await this.runExclusive(job);
          else {
            await this.receiveEvents(job);
            // A failed remote step leaves the in-memory state unknown: reload before more work.
            if (this.stale) break;
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async load(): Promise<void> {
    // A reload after a failed commit must wait for the commits still in flight to settle.
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.settle = resolve));
    const { decider, store, validateState } = this.env;
    const loaded = await store.load(this.stream, {
      model: decider.name,
      modelVersion: decider.stateVersion,
    });
    let state = decider.initialState();
    let version = NO_STREAM;
    if (loaded.snapshot) {
      state = validateState ? validateState(loaded.snapshot.state) : (loaded.snapshot.state as S);
      version = loaded.snapshot.version;
    }
    for (const event of loaded.events) {
      if (event.version !== version + 1)
        throw new TallyError(
          'invalid',
          `Stream ${this.stream} has a gap: version ${event.version} follows ${version}.`,
        );
      state = decider.evolve(state, event);
      version = event.version;
    }
    this.state = state;
    this.version = version;
    this.snapshotAt = loaded.snapshot?.version ?? NO_STREAM;
    this.loaded = true;
    this.stale = false;
    this.env.onState?.(this.stream, state);
  }

  private async receiveEvents(job: ReceiveJob<E>): Promise<void> {
    const { decider, store, context, parseCommands } = this.env;
    if (!store.receive || !parseCommands) {
      job.reject(new TallyError('unavailable', 'This store cannot take events from a server.'));
      return;
    }
    // The rebase reads the durable stream: every commit decided before this job must land first.
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.settle = resolve));
    if (this.stale) {
      // A commit failed meanwhile; put the job back and let the drain reload first.
      this.mailbox.unshift(job);
      return;
    }
    let rebased: { state: S; version: number } | undefined;
    try {
      const outcome = await store.receive(
        this.stream,
        job.events,
        (view) => {
          const result = rebase(view, {
            decider,
            stream: this.stream,
            context: context(this.stream, 'sync'),
            parseCommands,
            now: this.env.now,
            label: this.env.label,
            ...(this.env.validateState ? { parseState: this.env.validateState } : {}),
            stamp: (event, at) => this.stamp(event, at.commandId, at.version, at.time),
          });
          rebased = result;
          return result;
        },
        { recheck: job.recheck },
      );
      if (outcome.type === 'applied') {
        if (outcome.rebased && rebased) {
          this.state = rebased.state;
          this.version = rebased.version;
          // The store dropped the stream's snapshot: it may have held a rewritten version.
          this.snapshotAt = NO_STREAM;
        } else
          for (const event of outcome.appended) {
            this.state = decider.evolve(this.state, event);
            this.version = event.version;
          }
        if (this.version !== outcome.version) this.stale = true;
        // Only a changed state is news to the cross-aggregate index.
        else if (outcome.rebased || outcome.appended.length > 0)
          this.env.onState?.(this.stream, this.state);
      }
      job.resolve(outcome);
    } catch (error) {
      this.stale = true;
      job.reject(toTallyError(error));
    }
  }

  private stamp(event: E, commandId: string, version: number, time: number): EventEnvelope<E> {
    return {
      id: this.env.newId(),
      stream: this.stream,
      version,
      type: event.type,
      data: event.data,
      meta: {
        time,
        device: this.env.device,
        command: commandId,
        schema: this.env.schemaOf(event.type),
      },
    } as EventEnvelope<E>;
  }

  private decide(job: CommandJob<C>): void {
    const { decider, context, onState } = this.env;
    const before = this.state;
    const expectedVersion = this.version;
    let decision;
    try {
      decision = decideBatch(decider, before, job.commands, context(this.stream, 'command'));
    } catch (error) {
      job.reject(toTallyError(error, 'invalid'));
      return;
    }
    // A rejection or a no-op writes nothing, but it was decided on state that may include
    // commits still in flight: it is answered only once they are durable, and fails with them.
    if (decision.type === 'rejected') {
      const reason = decision.reason;
      this.afterInFlight(job, () => ({ type: 'rejected', code: 'rejected', reason }));
      return;
    }
    if (decision.events.length === 0) {
      const version = this.version;
      this.afterInFlight(job, () => ({
        type: 'accepted',
        stream: this.stream,
        version,
        events: [],
      }));
      return;
    }
    const time = this.env.now();
    const events = decision.events.map((event, index) =>
      this.stamp(event, job.commandId, expectedVersion + index + 1, time),
    );
    this.state = decision.state;
    this.version = expectedVersion + events.length;
    let snapshot: Snapshot | undefined;
    if (this.version - this.snapshotAt >= this.env.snapshotEvery) {
      snapshot = {
        stream: this.stream,
        version: this.version,
        model: decider.name,
        modelVersion: decider.stateVersion,
        state: decision.state,
      };
      this.snapshotAt = this.version;
    }
    onState?.(this.stream, decision.state);
    const version = this.version;
    this.inFlight++;
    const command = { id: job.commandId, commands: job.commands };
    const commit = this.env.store.append({
      stream: this.stream,
      expectedVersion,
      events,
      snapshot,
      command,
    });
    this.lastCommit = commit;
    // Once settled, the commit (and the events it resolved with) need not stay in memory.
    const forget = () => {
      if (this.lastCommit === commit) this.lastCommit = settledCommit;
    };
    commit.then(
      (stored) => {
        forget();
        this.settled();
        job.resolve({ type: 'accepted', stream: this.stream, version, events: stored });
      },
      (error: unknown) => {
        // The store wrote nothing for this commit, and every later commit of this actor that
        // was decided on top of it fails its expected-version check the same way.
        // Reloading right away also puts the cross-aggregate index back to the durable state.
        this.stale = true;
        forget();
        this.settled();
        job.reject(toTallyError(error));
        if (!this.draining) void this.drain();
      },
    );
  }

  /** The newest commit handed to the store: every earlier one settles before it does. */
  private lastCommit: Promise<unknown> = settledCommit;

  private afterInFlight(job: CommandJob<C>, answer: () => ExecuteResult<E>): void {
    if (this.inFlight === 0) {
      job.resolve(answer() as ExecuteResult<AnyEvent>);
      return;
    }
    this.lastCommit.then(
      () => job.resolve(answer() as ExecuteResult<AnyEvent>),
      (error: unknown) => job.reject(toTallyError(error)),
    );
  }

  private settled(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.settle) {
      const settle = this.settle;
      this.settle = undefined;
      settle();
    }
  }
}
