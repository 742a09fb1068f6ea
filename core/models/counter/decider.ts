import { z } from '../../zod.ts';
import { reject, type Decider } from '../../decider.ts';
import { maxStep, maxValue } from './limits.ts';
import { legacyName, nameKey, nameProblem, normalName } from './name.ts';

/**
 * The counter model: the seed's `Model.Counter`, grown up. State holds only what the rules need
 * (the seed's advice: keep aggregate state small so many fit in memory).
 */
export { legacyName, nameKey, nameProblem, normalName, unnamedCounter } from './name.ts';

export const counterNameSchema = z.pipe(
  z.string().check(
    z.maxLength(10_000, 'A counter name is at most 60 characters.'),
    z.superRefine((typed: string, ctx) => {
      const problem = nameProblem(normalName(typed), typed);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
  z.transform(normalName),
);

/**
 * Names in events read back: the rule they were written under (trimmed, single spaces, 1–60),
 * so no stored counter becomes unreadable when the rule for new names grows stricter. They are
 * read in today's form (`legacyName`), so a device pushes an older build's event in the form
 * the server takes: one odd name must not hold back everything else the device syncs.
 */
const storedNameSchema = z.pipe(
  z.pipe(
    z.string(),
    z.transform((name: string) => legacyName(name.trim().replace(/\s+/g, ' '))),
  ),
  z
    .string()
    .check(
      z.minLength(1, 'A counter needs a name.'),
      z.maxLength(60, 'A counter name is at most 60 characters.'),
    ),
);

export { maxStep, maxValue } from './limits.ts';
const amountSchema = z.number().check(z.int(), z.gte(1), z.lte(maxStep));
const valueSchema = z
  .number()
  .check(z.int(), z.gte(0, 'A count cannot be below zero.'), z.lte(maxValue));

export const counterCommandSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('create'), name: counterNameSchema }),
  /** Adds `amount` (1 by default): the + button, or the counter's step. */
  z.strictObject({ type: z.literal('increment'), amount: z.optional(amountSchema) }),
  z.strictObject({ type: z.literal('decrement') }),
  z.strictObject({ type: z.literal('rename'), name: counterNameSchema }),
  /** Back to zero (water starts again each day). */
  z.strictObject({ type: z.literal('reset') }),
  /** A value typed in, or an undo putting the value back. */
  z.strictObject({ type: z.literal('set'), value: valueSchema }),
  z.strictObject({ type: z.literal('setStep'), step: amountSchema }),
  /** Out of the main list; it takes no commands but `restore` until then. */
  z.strictObject({ type: z.literal('archive') }),
  z.strictObject({ type: z.literal('restore') }),
]);
export type CounterCommand = z.infer<typeof counterCommandSchema>;

export const counterEventSchemas = {
  // Events read back keep the lenient rule they were written under; the server holds new ones
  // to the full one (`checkSequence` in model.ts).
  Created: z.strictObject({ name: storedNameSchema }),
  /** Schema 2: `amount` (schema 1 had none; the upcaster makes it 1, codec.ts). */
  Incremented: z.strictObject({ amount: amountSchema }),
  Decremented: z.strictObject({}),
  Renamed: z.strictObject({ name: storedNameSchema }),
  Reset: z.strictObject({}),
  ValueSet: z.strictObject({ value: valueSchema }),
  StepSet: z.strictObject({ step: amountSchema }),
  Archived: z.strictObject({}),
  Restored: z.strictObject({}),
  /**
   * The server's tombstone for a counter deleted forever (`DELETE …/streams/:stream`): written by
   * the server only, never decided by a device (`checkSequence` refuses it in a push). A device
   * that receives it drops the stream's events; it is never stored.
   */
  Deleted: z.strictObject({}),
} as const;

/** The event union, inferred from the schemas above: no hand-written twin to drift. */
export type CounterEvent = {
  [T in keyof typeof counterEventSchemas]: {
    readonly type: T;
    readonly data: z.output<(typeof counterEventSchemas)[T]>;
  };
}[keyof typeof counterEventSchemas];

/** What the engine knows beyond one aggregate: names are unique across counters. */
export type CounterContext = {
  /** True when another counter already has this name (compared case-insensitively). */
  readonly isNameTaken: (name: string) => boolean;
  /** True when a pending command is re-decided on top of the server's events. */
  readonly afterSync?: boolean;
  /** True when the counter holding this name is archived (its name stays reserved). */
  readonly isNameArchived?: (name: string) => boolean;
};

export const noCounterContext: CounterContext = { isNameTaken: () => false };

export const counterStateSchema = z.union([
  z.strictObject({ exists: z.literal(false) }),
  z.strictObject({
    exists: z.literal(true),
    name: z.string(),
    value: z.number().check(z.int(), z.nonnegative()),
    /** What +N adds; absent means 1 (state written before steps existed). */
    step: z.optional(z.number().check(z.int(), z.positive())),
    /** Archived: out of the main list, taking no commands but `restore`. */
    archived: z.optional(z.literal(true)),
  }),
]);
export type CounterState = z.infer<typeof counterStateSchema>;

/**
 * Why a name cannot be taken: another counter has it. An archived counter keeps its name
 * reserved (restoring it never clashes), and the sentence says where that counter is.
 */
const nameTaken = (name: string, context: CounterContext) =>
  reject(
    context.isNameArchived?.(name)
      ? `There is already a counter named “${name}” in your archived counters: restore it, or delete it forever to free the name.`
      : `There is already a counter named “${name}”.`,
  );

export const counter: Decider<CounterState, CounterCommand, CounterEvent, CounterContext> = {
  name: 'counter',
  stateVersion: 1,

  initialState: () => ({ exists: false }),

  decide(state, command, context) {
    switch (command.type) {
      case 'create':
        if (state.exists) return reject(`A counter named “${state.name}” already exists here.`);
        // After sync a counter that was made here stays, whatever name another device took
        // meanwhile: the names are settled afterwards (`names.ts`), the counts are never dropped.
        if (!context.afterSync && context.isNameTaken(command.name))
          return nameTaken(command.name, context);
        return [{ type: 'Created', data: { name: command.name } }];
    }
    if (!state.exists) return reject('That counter does not exist.');
    // An archived counter takes no commands: here, and again on every device after sync (a
    // pending command meeting another device's archive is re-decided and rejected).
    if (state.archived && command.type !== 'archive' && command.type !== 'restore')
      return reject(`“${state.name}” is archived: restore it to change it.`);
    switch (command.type) {
      case 'archive':
        return state.archived ? [] : [{ type: 'Archived', data: {} }];
      case 'restore':
        return state.archived ? [{ type: 'Restored', data: {} }] : [];
      case 'increment':
        if (state.value + (command.amount ?? 1) > maxValue)
          return reject(`“${state.name}” cannot count past ${maxValue.toLocaleString('en')}.`);
        return [{ type: 'Incremented', data: { amount: command.amount ?? 1 } }];
      case 'decrement':
        if (state.value <= 0) return reject(`“${state.name}” is already at zero.`);
        return [{ type: 'Decremented', data: {} }];
      case 'reset':
        return state.value === 0 ? [] : [{ type: 'Reset', data: {} }];
      case 'set':
        return state.value === command.value
          ? []
          : [{ type: 'ValueSet', data: { value: command.value } }];
      case 'setStep':
        return (state.step ?? 1) === command.step
          ? []
          : [{ type: 'StepSet', data: { step: command.step } }];
      case 'rename':
        if (command.name === state.name) return [];
        if (nameKey(command.name) !== nameKey(state.name) && context.isNameTaken(command.name))
          return nameTaken(command.name, context);
        return [{ type: 'Renamed', data: { name: command.name } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'Created':
        // A second Created (a faulty or foreign client's; the server refuses them) resets
        // nothing: every device folds it the same way, as no change.
        return state.exists ? state : { exists: true, name: event.data.name, value: 0 };
      case 'Incremented':
        return state.exists
          ? { ...state, value: Math.min(maxValue, state.value + event.data.amount) }
          : state;
      case 'Reset':
        return state.exists ? { ...state, value: 0 } : state;
      case 'ValueSet':
        return state.exists ? { ...state, value: event.data.value } : state;
      case 'StepSet':
        return state.exists ? { ...state, step: event.data.step } : state;
      case 'Decremented':
        // Never below zero, even for a Decremented that no rule here would have decided (one
        // pushed by a faulty or foreign client): every device folds it the same way, and no
        // stored state or row ever fails its own schema.
        return state.exists ? { ...state, value: Math.max(0, state.value - 1) } : state;
      case 'Renamed':
        return state.exists ? { ...state, name: event.data.name } : state;
      case 'Archived':
        return state.exists ? { ...state, archived: true } : state;
      case 'Restored': {
        if (!state.exists) return state;
        const { archived: _, ...restored } = state;
        return restored;
      }
      case 'Deleted':
        return { exists: false };
    }
  },
};
