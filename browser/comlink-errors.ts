import { transferHandlers } from 'comlink';
import { reviveError, toTallyError, type SerializedError } from '../core/errors.ts';

type Thrown = { value: unknown };

/**
 * Errors cross the thread boundary as code + message on purpose, and are rebuilt as TallyError
 * on the other side; Comlink's default would keep only a message and a stack of another thread.
 * Both sides must install this before their first message.
 */
export function installErrorTransfer(): void {
  const original = transferHandlers.get('throw');
  if (!original) return;
  transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize: ({ value }: Thrown) => [toTallyError(value).toJSON() satisfies SerializedError, []],
    deserialize: (serialized: unknown) => {
      throw reviveError(serialized);
    },
  });
}
