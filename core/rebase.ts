import { decideBatch, type Decider, type Typed } from './decider.ts';
import { NO_STREAM, type EventEnvelope, type StreamId } from './envelope.ts';
import { TallyError } from './errors.ts';
import type {
  AnyEvent,
  PendingCommand,
  RebasePlan,
  RebaseView,
  RejectedAfterSync,
} from './event-store.ts';

/** Wraps a decided event in its envelope: a fresh id, its version, the command that made it. */
export type Stamp<E extends AnyEvent> = (
  event: E,
  at: { readonly commandId: string; readonly version: number; readonly time: number },
) => EventEnvelope<E>;

export type RebaseOptions<S, C extends Typed, E extends AnyEvent & Typed, Ctx> = {
  readonly decider: Decider<S, C, E, Ctx>;
  readonly stream: StreamId;
  readonly context: Ctx;
  /** Stored commands are read back through the model's schema; throws on garbage. */
  readonly parseCommands: (raw: readonly unknown[]) => readonly C[];
  readonly stamp: Stamp<E>;
  readonly now: () => number;
  /** Names the aggregate for the person reading a rejection (a counter's name). */
  readonly label?: (state: S, commands: readonly C[]) => string | undefined;
  /** A stored state read back (a snapshot base's): throws on garbage. */
  readonly parseState?: (raw: unknown) => S;
};

export type RebaseResult<S, E extends AnyEvent> = RebasePlan<E> & {
  /** The aggregate's state after the confirmed events and the surviving pending commands. */
  readonly state: S;
  readonly version: number;
};

/**
 * The rebase rule of docs/architecture.md, "Sync rules", pure: the server's events are taken as confirmed, then each
 * pending command is decided again (its commands, not its old events) against the state they
 * leave, oldest first. A command that still passes keeps its id and gets fresh events; one that
 * no longer passes is rejected after sync. Re-deciding is what keeps invariants true across
 * devices: two offline decrements of a counter at 1 cannot both survive.
 */
export function rebase<S, C extends Typed, E extends AnyEvent & Typed, Ctx>(
  view: RebaseView<E>,
  options: RebaseOptions<S, C, E, Ctx>,
): RebaseResult<S, E> {
  const { decider, stream } = options;
  let state = decider.initialState();
  let version = NO_STREAM;
  if (view.base) {
    if (!options.parseState)
      throw new TallyError('invalid', `Stream ${stream} starts from a snapshot it cannot read.`);
    state = options.parseState(view.base.state);
    version = view.base.version;
  }
  for (const event of view.confirmed) {
    if (event.version !== version + 1)
      throw new TallyError(
        'invalid',
        `Stream ${stream} has a gap: version ${event.version} follows ${version}.`,
      );
    state = decider.evolve(state, event);
    version = event.version;
  }
  const pending: PendingCommand<E>[] = [];
  const rejected: RejectedAfterSync[] = [];
  // What the person knew the aggregate as: the old pending events folded, for a rejection of an
  // aggregate that no longer exists here (its create fell out) to still name it.
  const known = options.label?.(
    view.pending.flatMap((c) => c.events).reduce(decider.evolve, state),
    [],
  );
  /**
   * Commands that fail right after a rejected one, with nothing passing in between, fail because
   * of it when the aggregate does not exist here (its create fell out, so its increments cannot
   * be made) or for the same reason (three decrements at zero): told with it, once. A later one
   * that fails for a reason of its own (a rename to a name taken, after a decrement at zero) is
   * told apart, with its reason.
   */
  let first: { index: number; later: number } | undefined;
  const reject = (rejection: RejectedAfterSync) => {
    const earlier = first && rejected[first.index]!;
    if (first && earlier && (version === NO_STREAM || earlier.reason === rejection.reason)) {
      first.later++;
      rejected[first.index] = { ...earlier, later: first.later };
      return;
    }
    first = { index: rejected.length, later: 0 };
    rejected.push(rejection);
  };
  for (const command of view.pending) {
    let commands: readonly C[];
    try {
      commands = options.parseCommands(command.commands);
    } catch {
      reject({
        commandId: command.commandId,
        stream,
        reason: 'This change was stored in a form Tally can no longer read.',
        ...(known === undefined ? {} : { name: known }),
        at: options.now(),
      });
      continue;
    }
    const decision = decideBatch(decider, state, commands, options.context);
    if (decision.type === 'rejected') {
      const name = options.label?.(state, commands) ?? known;
      reject({
        commandId: command.commandId,
        stream,
        reason: decision.reason,
        ...(name === undefined ? {} : { name }),
        at: options.now(),
      });
      continue;
    }
    // A command that now changes nothing (a rename to the name it already has) has nothing to
    // push; it is neither kept nor rejected.
    if (decision.events.length === 0) continue;
    // The person did this when they did it: the re-decided events keep the original time.
    const time = command.events[0]?.meta.time ?? options.now();
    const events = decision.events.map((event, index) =>
      options.stamp(event, { commandId: command.commandId, version: version + index + 1, time }),
    );
    state = decision.state;
    version += events.length;
    pending.push({ commandId: command.commandId, commands: command.commands, events });
    first = undefined;
  }
  return { state, version, pending, rejected };
}
