import type { Model } from '../../model.ts';
import { boardCodec } from './codec.ts';
import {
  board,
  boardCommandSchema,
  boardStateSchema,
  type BoardCommand,
  type BoardEvent,
  type BoardState,
} from './decider.ts';
import { boardView } from './projections.ts';

/** The board model: `board-main`, the order counters are shown in. */
export const boardModel: Model<BoardState, BoardCommand, BoardEvent, void> = {
  decider: board,
  commandSchema: boardCommandSchema,
  stateSchema: boardStateSchema,
  codec: boardCodec,
  projections: [boardView],
  rules: () => ({ observe: () => undefined, context: () => undefined }),
  label: () => 'the order of your counters',
  commandsOf: (events) =>
    events.map((event): BoardCommand =>
      event.type === 'Placed'
        ? { type: 'place', counters: [...event.data.counters] }
        : { type: 'move', counter: event.data.counter, after: event.data.after },
    ),
};
