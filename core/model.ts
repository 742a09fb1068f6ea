import type { z } from './zod.ts';
import type { DecisionSituation } from './aggregate-actor.ts';
import type { Codec } from './codec.ts';
import type { Decider, Typed } from './decider.ts';
import { streamIdPattern, type EventEnvelope, type StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import type { AnyEvent } from './event-store.ts';
import type { Projection, Projections } from './projection.ts';

/** Reads a read model's rows; what a model's rules may consult when they settle something. */
export type ViewReader = <Row>(projection: Projection<Row>) => Promise<readonly Row[]>;

/** Commands a model's rules ask the engine to run, after the server's events broke a rule. */
export type FollowUp = { readonly stream: StreamId; readonly commands: readonly unknown[] };

/**
 * A model's rules across its aggregates (docs/architecture.md, "Models"): an
 * in-memory index told synchronously of every state an actor of the model holds, so the next
 * decision anywhere sees it, and the context `decide` gets from it.
 */
export interface ModelRules<S, Ctx> {
  observe(stream: StreamId, state: S): void;
  context(stream: StreamId, situation: DecisionSituation): Ctx;
  /**
   * After the server's events are applied: what must be done so the rule holds again on every
   * device the same way (two devices offline named two counters alike → rename the later one).
   */
  settle?(read: ViewReader): Promise<readonly FollowUp[]>;
}

export type RuleHooks = {
  /** Re-decide this stream's pending commands: something they relied on changed. */
  recheck(stream: StreamId): void;
};

/**
 * One model, as one bundle (docs/architecture.md, "Models"): everything the engine, the store,
 * sync and the server need to know of it, and nothing they know besides. The engine routes by
 * the stream id's prefix, which is the decider's name (`counter-…` → the counter model).
 */
export interface Model<S, C extends Typed, E extends AnyEvent & Typed, Ctx> {
  readonly decider: Decider<S, C, E, Ctx>;
  /** Commands from tabs and from storage are parsed with it (both are edges). */
  readonly commandSchema: z.ZodMiniType<C>;
  /** Snapshots read back are parsed with it. */
  readonly stateSchema: z.ZodMiniType<S>;
  readonly codec: Codec<E>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  readonly projections: readonly Projection<any, E>[];
  rules(hooks: RuleHooks): ModelRules<S, Ctx>;
  /**
   * The states the stored read-model rows say the aggregates are in: what the rules observe at
   * start, so they know every aggregate without loading each one.
   */
  rowStates?(read: ViewReader): Promise<Iterable<readonly [StreamId, S]>>;
  /** What a person calls the aggregate, for a rejection after sync. */
  label(state: S, commands: readonly C[]): string | undefined;
  /** One history line's name and value after an event: the history is a fold of `evolve`. */
  historyLine?(state: S): { readonly name: string; readonly value: number };
  /**
   * The commands that decide exactly these events (one command's events, in order): for events
   * stored without their commands (database v1) and for events another device decided, when
   * this device takes its whole history to a new space.
   */
  commandsOf(events: readonly EventEnvelope<E>[]): readonly C[];
  /**
   * The model's rules for sequences, for events pushed to the server: undefined when the events
   * can follow a stream at `expectedVersion`, else the rule they break, in words. Without it, any
   * sequence the codec decodes is possible.
   */
  checkSequence?(
    expectedVersion: number,
    events: readonly { readonly version: number; readonly type: string; readonly data: unknown }[],
  ): string | undefined;
  /**
   * True when the server may keep this model's streams folded (server/snapshots.ts): its state
   * and rows stay small whatever the stream's length, and `evolve` costs the same for every
   * event. A model whose state grows with the space (the board's order) is read from its events
   * instead by a device joining a space.
   */
  readonly foldOnServer?: boolean;
  /**
   * Aggregates of this model that may be deleted forever (`DELETE …/streams/:stream`): the event
   * type of the server's tombstone, which only the server writes and a device never stores (it
   * drops the stream's events on receiving it), and why a state may not be deleted (undefined
   * when it may). Without it, the model's streams are never deleted.
   */
  readonly deletion?: {
    readonly tombstone: E['type'];
    refuse(state: S): string | undefined;
  };
  /**
   * A list a tab shows first (docs/architecture.md, "The first screen"): the keys of the rows of
   * `view` it shows, in its order, from the views the host keeps (`views` gives any view's rows
   * by key). Its first rows are kept beside the views, so the next start shows them before the
   * whole view is read.
   */
  readonly firstScreen?: {
    readonly view: string;
    order(views: (view: string) => ReadonlyMap<string, unknown> | undefined): readonly string[];
    /**
     * A row of `view` changed from `before` to `after` without moving in the order (a count, a
     * rename): the order is not computed again for it. A change to any other view, or a row
     * added or removed, always computes it again.
     */
    keepsOrder?(before: unknown, after: unknown): boolean;
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list holds models of any types
export type AnyModel = Model<any, any, any, any>;

/** The prefix of a stream id names its model: `counter-3f2a…` → `counter`. */
export const modelNameOf = (stream: StreamId): string => stream.slice(0, stream.indexOf('-'));

/**
 * The models an engine (or the server) knows, looked up by stream. A stream of no known model is
 * refused with a clear error, never handed to some decider.
 */
export class ModelSet implements Projections {
  private readonly byName = new Map<string, AnyModel>();

  constructor(readonly all: readonly AnyModel[]) {
    for (const model of all) {
      const { name } = model.decider;
      if (!/^[a-z][a-z0-9]{0,23}$/.test(name))
        throw new RangeError(`A model's name must be a stream prefix, got “${name}”.`);
      if (this.byName.has(name)) throw new RangeError(`Two models are named “${name}”.`);
      const views = new Set<string>();
      for (const projection of model.projections) {
        if (views.has(projection.view))
          throw new RangeError(`Model ${name} has two views named “${projection.view}”.`);
        views.add(projection.view);
      }
      this.byName.set(name, model);
    }
    const views = all.flatMap((model) => model.projections.map((p) => p.view));
    if (new Set(views).size !== views.length)
      throw new RangeError('Two models define a view of the same name.');
  }

  /** The model of a stream; throws `invalid` for a malformed id or an unknown prefix. */
  modelOf(stream: StreamId): AnyModel {
    if (typeof stream !== 'string' || !streamIdPattern.test(stream))
      throw new TallyError('invalid', `“${String(stream).slice(0, 80)}” is not a stream id.`);
    const model = this.byName.get(modelNameOf(stream));
    if (!model)
      throw new TallyError(
        'invalid',
        `Stream ${stream} is of an unknown kind (“${modelNameOf(stream)}”).`,
      );
    return model;
  }

  /** The projections a stream's events feed: its model's. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  of = (stream: StreamId): readonly Projection<any>[] =>
    this.byName.get(modelNameOf(stream))?.projections ?? [];

  /** The projection named `view`, in whichever model defines it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  view = (view: string): Projection<any> | undefined => {
    for (const model of this.all)
      for (const projection of model.projections) if (projection.view === view) return projection;
    return undefined;
  };

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rows differ per view
  get projections(): readonly Projection<any>[] {
    return this.all.flatMap((model) => model.projections);
  }

  /** Validates an event from storage or the network with its model's codec. */
  decode(raw: unknown): EventEnvelope {
    const stream = (raw as { stream?: unknown } | null)?.stream;
    if (typeof stream !== 'string')
      throw new TallyError('invalid', 'An event names no stream it belongs to.');
    return this.modelOf(stream).codec.decode(raw) as EventEnvelope;
  }
}
