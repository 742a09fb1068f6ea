import { ModelSet } from '../model.ts';
import { boardModel } from './board/model.ts';
import { counterModel } from './counter/model.ts';

/** Every model Tally knows: the engine, sync and the server route streams through this list. */
export const models = new ModelSet([counterModel, boardModel]);
