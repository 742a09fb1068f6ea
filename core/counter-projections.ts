import { z } from 'zod';
import type { CounterEvent } from './counter.ts';
import type { Projection } from './projection.ts';

export const counterRowSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  value: z.number().int().nonnegative(),
  version: z.number().int().positive(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type CounterRow = z.infer<typeof counterRowSchema>;

/** The list of counters with their values: what the home screen shows. */
export const counterList: Projection<CounterRow, CounterEvent> = {
  view: 'counters',
  schema: counterRowSchema,
  key: (event) => event.stream,
  apply(row, event) {
    const touched = { version: event.version, updatedAt: event.meta.time };
    switch (event.type) {
      case 'Created':
        return {
          id: event.stream,
          name: event.data.name,
          value: 0,
          createdAt: event.meta.time,
          ...touched,
        };
      case 'Incremented':
        return row && { ...row, ...touched, value: row.value + 1 };
      case 'Decremented':
        // Folded exactly as the model's `evolve` does: never below zero.
        return row && { ...row, ...touched, value: Math.max(0, row.value - 1) };
      case 'Renamed':
        return row && { ...row, ...touched, name: event.data.name };
    }
  },
};
