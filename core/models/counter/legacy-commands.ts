import type { CounterCommand, CounterEvent } from './decider.ts';
import type { EventEnvelope } from '../../envelope.ts';

/**
 * Events written before the outbox existed (database v1) have no stored command. Each counter
 * event has exactly one command that decides it, so the command is recovered rather than
 * guessed; a rebase then re-decides it like any other pending command.
 */
export function counterCommandsOf(
  events: readonly EventEnvelope<{ type: string; data: unknown }>[],
): CounterCommand[] {
  return events.flatMap((event): CounterCommand[] => {
    const { type, data } = event as unknown as CounterEvent;
    switch (type) {
      case 'Created':
        return [{ type: 'create', name: data.name }];
      case 'Renamed':
        return [{ type: 'rename', name: data.name }];
      case 'Incremented':
        return [
          data.amount === 1 ? { type: 'increment' } : { type: 'increment', amount: data.amount },
        ];
      case 'Decremented':
        return [{ type: 'decrement' }];
      case 'Reset':
        return [{ type: 'reset' }];
      case 'ValueSet':
        return [{ type: 'set', value: data.value }];
      case 'StepSet':
        return [{ type: 'setStep', step: data.step }];
      case 'Archived':
        return [{ type: 'archive' }];
      case 'Restored':
        return [{ type: 'restore' }];
      case 'Deleted':
        // The server's tombstone is never stored, so no stored run holds one.
        return [];
    }
  });
}
