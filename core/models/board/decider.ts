import { z } from '../../zod.ts';
import { reject, type Decider } from '../../decider.ts';
import { streamIdSchema } from '../../envelope.ts';

/**
 * The board: the order in which a person's counters are shown, one aggregate for the whole
 * space (`board-main`). Moves are relative ("put X right after Y"), so when two offline devices
 * each move a counter, re-running both moves on rebase keeps both.
 */
export { boardStream } from './order.ts';

const counterIdSchema = streamIdSchema.check(
  z.refine((id) => id.startsWith('counter-'), { message: 'Not a counter.' }),
);

/** Ids per Placed event: an event stays well under the protocol's 4 KiB. */
export const placedPerEvent = 40;

export const boardCommandSchema = z.discriminatedUnion('type', [
  /** Puts counters not yet on the board at its end, in the order given. */
  z.strictObject({
    type: z.literal('place'),
    counters: z.array(counterIdSchema).check(z.minLength(1), z.maxLength(10_000)),
  }),
  /** Puts `counter` right after `after` (first when null). */
  z.strictObject({
    type: z.literal('move'),
    counter: counterIdSchema,
    after: z.nullable(counterIdSchema),
  }),
]);
export type BoardCommand = z.infer<typeof boardCommandSchema>;

export const boardEventSchemas = {
  Placed: z.strictObject({
    counters: z.array(counterIdSchema).check(z.minLength(1), z.maxLength(placedPerEvent)),
  }),
  Moved: z.strictObject({ counter: counterIdSchema, after: z.nullable(counterIdSchema) }),
} as const;

export type BoardEvent = {
  [T in keyof typeof boardEventSchemas]: {
    readonly type: T;
    readonly data: z.output<(typeof boardEventSchemas)[T]>;
  };
}[keyof typeof boardEventSchemas];

export const boardStateSchema = z.strictObject({ order: z.array(z.string()) });
export type BoardState = z.infer<typeof boardStateSchema>;

const without = (order: readonly string[], id: string) => order.filter((other) => other !== id);

export const board: Decider<BoardState, BoardCommand, BoardEvent, void> = {
  name: 'board',
  stateVersion: 1,

  initialState: () => ({ order: [] }),

  decide(state, command) {
    const on = new Set(state.order);
    switch (command.type) {
      case 'place': {
        const fresh = [...new Set(command.counters)].filter((id) => !on.has(id));
        const events: BoardEvent[] = [];
        for (let i = 0; i < fresh.length; i += placedPerEvent)
          events.push({ type: 'Placed', data: { counters: fresh.slice(i, i + placedPerEvent) } });
        return events;
      }
      case 'move': {
        const { counter, after } = command;
        if (!on.has(counter)) return reject('That counter is not in the order yet.');
        if (after === counter) return reject('A counter cannot follow itself.');
        if (after !== null && !on.has(after))
          return reject('The counter to follow is not in the order yet.');
        const index = state.order.indexOf(counter);
        const already = after === null ? index === 0 : state.order[index - 1] === after;
        if (already) return [];
        return [{ type: 'Moved', data: { counter, after } }];
      }
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'Placed': {
        const on = new Set(state.order);
        const fresh = event.data.counters.filter((id) => !on.has(id));
        return fresh.length === 0 ? state : { order: [...state.order, ...fresh] };
      }
      case 'Moved': {
        const { counter, after } = event.data;
        const rest = without(state.order, counter);
        // A Moved after a counter this board never held (a foreign client's) puts it last:
        // every device folds it the same way.
        const at = after === null ? 0 : rest.indexOf(after) + 1 || rest.length;
        return { order: [...rest.slice(0, at), counter, ...rest.slice(at)] };
      }
    }
  },
};
