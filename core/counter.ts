import { z } from 'zod';
import { reject, type Decider } from './decider.ts';

/**
 * The counter model: the seed's `Model.Counter`, grown up. State holds only what the rules need
 * (the seed's advice: keep aggregate state small so many fit in memory).
 */
export const counterNameSchema = z
  .string()
  .transform((name) => name.trim().replace(/\s+/g, ' '))
  .pipe(
    z
      .string()
      .min(1, 'A counter needs a name.')
      .max(60, 'A counter name is at most 60 characters.'),
  );

export const counterCommandSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('create'), name: counterNameSchema }),
  z.strictObject({ type: z.literal('increment') }),
  z.strictObject({ type: z.literal('decrement') }),
  z.strictObject({ type: z.literal('rename'), name: counterNameSchema }),
]);
export type CounterCommand = z.infer<typeof counterCommandSchema>;

export const counterEventSchemas = {
  Created: z.strictObject({ name: counterNameSchema }),
  Incremented: z.strictObject({}),
  Decremented: z.strictObject({}),
  Renamed: z.strictObject({ name: counterNameSchema }),
} as const;

export type CounterEvent =
  | { readonly type: 'Created'; readonly data: { readonly name: string } }
  | { readonly type: 'Incremented'; readonly data: Record<string, never> }
  | { readonly type: 'Decremented'; readonly data: Record<string, never> }
  | { readonly type: 'Renamed'; readonly data: { readonly name: string } };

export type CounterState =
  | { readonly exists: false }
  | { readonly exists: true; readonly name: string; readonly value: number };

/** What the engine knows beyond one aggregate: names are unique across counters. */
export type CounterContext = {
  /** True when another counter already has this name (compared case-insensitively). */
  readonly isNameTaken: (name: string) => boolean;
};

export const noCounterContext: CounterContext = { isNameTaken: () => false };

export const nameKey = (name: string): string => name.trim().replace(/\s+/g, ' ').toLowerCase();

export const counter: Decider<CounterState, CounterCommand, CounterEvent, CounterContext> = {
  name: 'counter',
  snapshotVersion: 1,

  initialState: () => ({ exists: false }),

  decide(state, command, context) {
    switch (command.type) {
      case 'create':
        if (state.exists) return reject(`A counter named “${state.name}” already exists here.`);
        if (context.isNameTaken(command.name))
          return reject(`There is already a counter named “${command.name}”.`);
        return [{ type: 'Created', data: { name: command.name } }];
      case 'increment':
        if (!state.exists) return reject('That counter does not exist.');
        return [{ type: 'Incremented', data: {} }];
      case 'decrement':
        if (!state.exists) return reject('That counter does not exist.');
        if (state.value <= 0) return reject(`“${state.name}” is already at zero.`);
        return [{ type: 'Decremented', data: {} }];
      case 'rename':
        if (!state.exists) return reject('That counter does not exist.');
        if (command.name === state.name) return [];
        if (nameKey(command.name) !== nameKey(state.name) && context.isNameTaken(command.name))
          return reject(`There is already a counter named “${command.name}”.`);
        return [{ type: 'Renamed', data: { name: command.name } }];
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'Created':
        return { exists: true, name: event.data.name, value: 0 };
      case 'Incremented':
        return state.exists ? { ...state, value: state.value + 1 } : state;
      case 'Decremented':
        // Never below zero, even for a Decremented that no rule here would have decided (one
        // pushed by a faulty or foreign client): every device folds it the same way, and no
        // stored state or row ever fails its own schema.
        return state.exists ? { ...state, value: Math.max(0, state.value - 1) } : state;
      case 'Renamed':
        return state.exists ? { ...state, name: event.data.name } : state;
    }
  },
};

export const counterStateSchema = z.union([
  z.strictObject({ exists: z.literal(false) }),
  z.strictObject({
    exists: z.literal(true),
    name: z.string(),
    value: z.number().int().nonnegative(),
  }),
]);
