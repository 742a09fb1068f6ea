import { z } from '../../zod.ts';
import type { Projection } from '../../projection.ts';
import { board, type BoardEvent } from './decider.ts';
import { boardViewName } from './order.ts';

export const boardRowSchema = z.strictObject({
  id: z.string(),
  order: z.array(z.string()),
  version: z.number().check(z.int(), z.positive()),
});
export type BoardRow = z.infer<typeof boardRowSchema>;

/** The board's order as a row, folded by the model's own `evolve`. */
export const boardView: Projection<BoardRow, BoardEvent> = {
  view: boardViewName,
  schema: boardRowSchema,
  key: (event) => event.stream,
  apply: (row, event) => ({
    id: event.stream,
    order: board.evolve({ order: row?.order ?? [] }, event).order,
    version: event.version,
  }),
};

export { inBoardOrder } from './order.ts';
