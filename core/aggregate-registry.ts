import { AggregateActor, type ActorEnvironment, type ExecuteResult } from './aggregate-actor.ts';
import type { Typed } from './decider.ts';
import { streamIdPattern, type EventEnvelope, type StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import type { AnyEvent, ReceiveOutcome } from './event-store.ts';

export type RegistryOptions<S, C extends Typed, E extends AnyEvent & Typed, Ctx> = Omit<
  ActorEnvironment<S, C, E, Ctx>,
  'now' | 'newId' | 'snapshotEvery'
> & {
  /** At most this many aggregates stay in memory (idle ones are evicted, least recent first). */
  readonly maxResident?: number;
  /** A snapshot is written with the commit that takes a stream this many events past the last. */
  readonly snapshotEvery?: number;
  readonly now?: () => number;
  readonly newId?: () => string;
};

export type ExecuteOptions = {
  /** Identifies the command (or batch); every event it produces carries it. */
  readonly commandId?: string;
};

/**
 * The seed's `Registry`: exactly one live actor per stream, so every command for one aggregate
 * goes through one mailbox, and at most `maxResident` actors in memory. Eviction takes only idle
 * actors and is synchronous, so a command that arrives a moment later simply starts a fresh actor
 * that loads the (already durable) stream: nothing arriving is ever lost.
 */
export class AggregateRegistry<S, C extends Typed, E extends AnyEvent & Typed, Ctx> {
  private readonly actors = new Map<StreamId, AggregateActor<S, C, E, Ctx>>();
  private readonly env: ActorEnvironment<S, C, E, Ctx>;
  readonly maxResident: number;

  constructor(options: RegistryOptions<S, C, E, Ctx>) {
    const { maxResident = 10_000, snapshotEvery = 100 } = options;
    if (!Number.isInteger(maxResident) || maxResident < 1)
      throw new RangeError(`maxResident must be a positive integer, got ${maxResident}.`);
    if (!Number.isInteger(snapshotEvery) || snapshotEvery < 1)
      throw new RangeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}.`);
    this.maxResident = maxResident;
    this.env = {
      ...options,
      snapshotEvery,
      now: options.now ?? Date.now,
      newId: options.newId ?? (() => crypto.randomUUID()),
    };
  }

  /** How many actors are in memory now. */
  get resident(): number {
    return this.actors.size;
  }

  /**
   * Runs one command, or a batch of commands as one atomic decision, against one aggregate.
   * Resolves after the events are durable; a rejection by the model resolves as `rejected`
   * with nothing written.
   */
  async execute(
    stream: StreamId,
    commands: C | readonly C[],
    options: ExecuteOptions = {},
  ): Promise<ExecuteResult<E>> {
    if (!streamIdPattern.test(stream))
      throw new TallyError('invalid', `“${String(stream).slice(0, 80)}” is not a stream id.`);
    const batch = Array.isArray(commands) ? (commands as readonly C[]) : [commands as C];
    if (batch.length === 0) throw new TallyError('invalid', 'A batch needs at least one command.');
    const actor = this.actorFor(stream);
    try {
      return await actor.execute(batch, options.commandId ?? this.env.newId());
    } finally {
      this.evictIdle();
    }
  }

  /**
   * Hands the server's events for one stream to its actor's mailbox (docs/architecture.md, "Sync rules"): they are
   * applied in turn with the stream's commands, never beside them.
   */
  async receive(
    stream: StreamId,
    events: readonly EventEnvelope<E>[],
    options: { readonly recheck?: boolean } = {},
  ): Promise<ReceiveOutcome<E>> {
    if (!streamIdPattern.test(stream))
      throw new TallyError('invalid', `“${String(stream).slice(0, 80)}” is not a stream id.`);
    const actor = this.actorFor(stream);
    try {
      return await actor.receive(events, options.recheck === true);
    } finally {
      this.evictIdle();
    }
  }

  /**
   * Runs `work` on the stream's stored records in turn with its commands (an import, a deletion);
   * the actor loads the stream again afterwards.
   */
  async exclusive<T>(stream: StreamId, work: () => Promise<T>): Promise<T> {
    if (!streamIdPattern.test(stream))
      throw new TallyError('invalid', `“${String(stream).slice(0, 80)}” is not a stream id.`);
    const actor = this.actorFor(stream);
    try {
      return await actor.exclusive(work);
    } finally {
      this.evictIdle();
    }
  }

  /** True when the stream's actor is in memory (for tests and metrics). */
  isResident(stream: StreamId): boolean {
    return this.actors.has(stream);
  }

  private actorFor(stream: StreamId): AggregateActor<S, C, E, Ctx> {
    let actor = this.actors.get(stream);
    if (actor) {
      // Map keeps insertion order: re-inserting makes it the most recently used.
      this.actors.delete(stream);
    } else {
      actor = new AggregateActor(stream, this.env);
    }
    this.actors.set(stream, actor);
    // Never the actor just handed out: it is about to receive a command.
    this.evictIdle(stream);
    return actor;
  }

  private evictIdle(keep?: StreamId): void {
    if (this.actors.size <= this.maxResident) return;
    for (const [stream, actor] of this.actors) {
      if (this.actors.size <= this.maxResident) return;
      if (actor.idle && stream !== keep) this.actors.delete(stream);
    }
  }
}
