import { createCodec } from '../../codec.ts';
import { boardEventSchemas, type BoardEvent } from './decider.ts';

export const boardCodec = createCodec<BoardEvent>({
  Placed: { schema: 1, data: boardEventSchemas.Placed },
  Moved: { schema: 1, data: boardEventSchemas.Moved },
});
