import { createCodec } from './codec.ts';
import { counterEventSchemas, type CounterEvent } from './counter.ts';

export const counterCodec = createCodec<CounterEvent>({
  Created: { schema: 1, data: counterEventSchemas.Created },
  Incremented: { schema: 1, data: counterEventSchemas.Incremented },
  Decremented: { schema: 1, data: counterEventSchemas.Decremented },
  Renamed: { schema: 1, data: counterEventSchemas.Renamed },
});
