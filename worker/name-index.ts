import { nameKey, type CounterContext, type CounterState } from '../core/counter.ts';
import type { StreamId } from '../core/envelope.ts';

/**
 * Counter names are unique across aggregates. The index is told of every state an actor decides
 * synchronously, before the next command anywhere is decided, so two concurrent creates of the
 * same name cannot both pass: the second sees the first's reservation.
 */
export class NameIndex {
  /** Usually one stream per name; two only after remote events brought a duplicate. */
  private readonly owners = new Map<string, Set<StreamId>>();
  private readonly names = new Map<StreamId, string>();

  /**
   * Told when a stream takes a name another stream holds. Local decisions never do that; the
   * server's events can (two devices offline named two counters alike), and the engine then
   * re-checks the other stream's pending commands.
   */
  onCollision: ((displaced: StreamId, by: StreamId) => void) | undefined;

  set(stream: StreamId, name: string | undefined): void {
    const old = this.names.get(stream);
    const key = name === undefined ? undefined : nameKey(name);
    if (old === key) return;
    if (old !== undefined) {
      const holders = this.owners.get(old);
      holders?.delete(stream);
      if (holders?.size === 0) this.owners.delete(old);
    }
    if (key === undefined) {
      this.names.delete(stream);
      return;
    }
    this.names.set(stream, key);
    let holders = this.owners.get(key);
    if (!holders) this.owners.set(key, (holders = new Set()));
    const others = [...holders];
    holders.add(stream);
    for (const other of others) this.onCollision?.(other, stream);
  }

  /** Names held by more than one stream, each with its holders. */
  duplicates(): [string, StreamId[]][] {
    return [...this.owners]
      .filter(([, holders]) => holders.size > 1)
      .map(([key, holders]) => [key, [...holders]]);
  }

  /** A free name like `Milk (2)`, for the counter that has to give its name up. */
  freeName(name: string): string {
    for (let n = 2; ; n++) {
      const candidate = `${name.slice(0, 52)} (${n})`;
      if (!this.owners.has(nameKey(candidate))) return candidate;
    }
  }

  onState = (stream: StreamId, state: CounterState): void =>
    this.set(stream, state.exists ? state.name : undefined);

  contextFor = (stream: StreamId): CounterContext => ({
    isNameTaken: (name) => {
      const holders = this.owners.get(nameKey(name));
      return holders !== undefined && [...holders].some((holder) => holder !== stream);
    },
  });
}
