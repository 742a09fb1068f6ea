/**
 * The model API: a plain-data decider. `decide` turns a command into events or a rejection and
 * never touches I/O; `evolve` is the one way state changes, used both when loading a stream and
 * when new events are applied (the seed's `next_state`).
 */
export type Rejection = { readonly type: 'rejected'; readonly reason: string };

export type Decision<E> = readonly E[] | Rejection;

export type Typed = { readonly type: string };

export interface Decider<S, C extends Typed, E extends Typed, Ctx = void> {
  /** Names the model; stored with snapshots so a snapshot of another model is never trusted. */
  readonly name: string;
  /**
   * The version of the state's shape, bumped when it changes: snapshots of an older shape are
   * then ignored, not misread. Stored with each snapshot as `modelVersion`.
   */
  readonly stateVersion: number;
  initialState(): S;
  decide(state: S, command: C, context: Ctx): Decision<E>;
  evolve(state: S, event: E): S;
}

export const reject = (reason: string): Rejection => ({ type: 'rejected', reason });

export function isRejection<E>(decision: Decision<E>): decision is Rejection {
  return !Array.isArray(decision);
}

/**
 * Decides a batch of commands as one atomic step (the seed's chainable `Increment2`): each command
 * sees the state left by the ones before it, and one rejection rejects the whole batch.
 */
export function decideBatch<S, C extends Typed, E extends Typed, Ctx>(
  decider: Decider<S, C, E, Ctx>,
  state: S,
  commands: readonly C[],
  context: Ctx,
): { readonly type: 'decided'; readonly state: S; readonly events: readonly E[] } | Rejection {
  let current = state;
  const events: E[] = [];
  for (const command of commands) {
    const decision = decider.decide(current, command, context);
    if (isRejection(decision)) return decision;
    for (const event of decision) {
      current = decider.evolve(current, event);
      events.push(event);
    }
  }
  return { type: 'decided', state: current, events };
}
