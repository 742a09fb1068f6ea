import { nameKey, type CounterContext, type CounterState } from '../core/counter.ts';
import type { StreamId } from '../core/envelope.ts';

/**
 * Counter names are unique across aggregates. The index is told of every state an actor decides
 * synchronously, before the next command anywhere is decided, so two concurrent creates of the
 * same name cannot both pass: the second sees the first's reservation.
 */
export class NameIndex {
  private readonly owners = new Map<string, StreamId>();
  private readonly names = new Map<StreamId, string>();

  set(stream: StreamId, name: string | undefined): void {
    const old = this.names.get(stream);
    if (old !== undefined && this.owners.get(old) === stream) this.owners.delete(old);
    if (name === undefined) {
      this.names.delete(stream);
      return;
    }
    const key = nameKey(name);
    this.names.set(stream, key);
    this.owners.set(key, stream);
  }

  onState = (stream: StreamId, state: CounterState): void =>
    this.set(stream, state.exists ? state.name : undefined);

  contextFor = (stream: StreamId): CounterContext => ({
    isNameTaken: (name) => {
      const owner = this.owners.get(nameKey(name));
      return owner !== undefined && owner !== stream;
    },
  });
}
