import type { AnyModel } from '../model.ts';
import { boardStream, boardViewName, counterListOrder } from './board/order.ts';
import type { CounterRow } from './counter/projections.ts';
import { counterViewName } from './counter/view.ts';

/**
 * The list a tab shows first (docs/architecture.md, "The first screen"): the counters, in the
 * board's order. It joins two models' views, so it is composed here, beside the list of models,
 * and neither model's folder imports the other's.
 */
export const counterListScreen: NonNullable<AnyModel['firstScreen']> = {
  view: counterViewName,
  order: (views) =>
    counterListOrder(
      (views(counterViewName)?.values() ?? []) as Iterable<CounterRow>,
      (views(boardViewName)?.get(boardStream) as { order?: readonly string[] } | undefined)?.order,
    ).map((row) => row.id),
  keepsOrder: (before, after) => {
    const [a, b] = [before as CounterRow, after as CounterRow];
    return a.createdAt === b.createdAt && !a.archived === !b.archived;
  },
};
