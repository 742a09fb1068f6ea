import type { CounterCommand, CounterEvent } from './counter.ts';
import type { EventEnvelope } from './envelope.ts';

/**
 * Events written before the outbox existed (database v1) have no stored command. Each counter
 * event has exactly one command that decides it, so the command is recovered rather than
 * guessed; a rebase then re-decides it like any other pending command.
 */
export function counterCommandsOf(
  events: readonly EventEnvelope<{ type: string; data: unknown }>[],
): CounterCommand[] {
  return events.map((event): CounterCommand => {
    const { type, data } = event as unknown as CounterEvent;
    switch (type) {
      case 'Created':
        return { type: 'create', name: data.name };
      case 'Renamed':
        return { type: 'rename', name: data.name };
      case 'Incremented':
        return { type: 'increment' };
      case 'Decremented':
        return { type: 'decrement' };
    }
  });
}
