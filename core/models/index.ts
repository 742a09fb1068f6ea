import { ModelSet } from '../model.ts';
import { boardModel } from './board/model.ts';
import { counterModel } from './counter/model.ts';
import { counterListScreen } from './first-screen.ts';

export type { CounterCommand } from './counter/decider.ts';

/**
 * Every model Tally knows: the engine, sync and the server route streams through this list. The
 * counter's first screen is the counters in the board's order: composed here
 * (`core/models/first-screen.ts`), since a model's folder imports no other model's.
 */
export const models = new ModelSet([
  { ...counterModel, firstScreen: counterListScreen },
  boardModel,
]);
