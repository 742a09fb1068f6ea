import { createCodec } from '../../codec.ts';
import { counterEventSchemas, type CounterEvent } from './decider.ts';

/**
 * Each event type's schema version, and the upcasters from older ones: stored and synced events
 * are never rewritten, they are read in today's shape.
 */
export const counterCodec = createCodec<CounterEvent>({
  Created: { schema: 1, data: counterEventSchemas.Created },
  // Schema 1 (before steps): one press, one more.
  Incremented: {
    schema: 2,
    data: counterEventSchemas.Incremented,
    upcast: { 1: (data) => ({ ...data, amount: 1 }) },
  },
  Decremented: { schema: 1, data: counterEventSchemas.Decremented },
  Renamed: { schema: 1, data: counterEventSchemas.Renamed },
  Reset: { schema: 1, data: counterEventSchemas.Reset },
  ValueSet: { schema: 1, data: counterEventSchemas.ValueSet },
  StepSet: { schema: 1, data: counterEventSchemas.StepSet },
  Archived: { schema: 1, data: counterEventSchemas.Archived },
  Restored: { schema: 1, data: counterEventSchemas.Restored },
  Deleted: { schema: 1, data: counterEventSchemas.Deleted },
});
