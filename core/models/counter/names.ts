import type { DecisionSituation } from '../../aggregate-actor.ts';
import type { FollowUp, ModelRules, RuleHooks } from '../../model.ts';
import { nameKey, type CounterContext, type CounterState } from './decider.ts';
import { counterList } from './projections.ts';
import type { StreamId } from '../../envelope.ts';

/**
 * Counter names are unique across aggregates. The index is told of every state an actor decides
 * synchronously, before the next command anywhere is decided, so two concurrent creates of the
 * same name cannot both pass: the second sees the first's reservation.
 */
class NameIndex {
  /** Usually one stream per name; two only after remote events brought a duplicate. */
  private readonly owners = new Map<string, Set<StreamId>>();
  private readonly names = new Map<StreamId, string>();
  /** Streams whose counter is archived: their names stay reserved. */
  private readonly archived = new Set<StreamId>();

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
  freeName(name: string, alsoTaken: ReadonlySet<string> = new Set()): string {
    for (let n = 2; ; n++) {
      const candidate = `${name.slice(0, 52)} (${n})`;
      const key = nameKey(candidate);
      if (!this.owners.has(key) && !alsoTaken.has(key)) return candidate;
    }
  }

  onState = (stream: StreamId, state: CounterState): void => {
    if (state.exists && state.archived) this.archived.add(stream);
    else this.archived.delete(stream);
    this.set(stream, state.exists ? state.name : undefined);
  };

  contextFor = (stream: StreamId, situation: DecisionSituation): CounterContext => ({
    afterSync: situation === 'sync',
    isNameTaken: (name) => {
      const holders = this.owners.get(nameKey(name));
      return holders !== undefined && [...holders].some((holder) => holder !== stream);
    },
    isNameArchived: (name) => {
      const holders = this.owners.get(nameKey(name));
      return holders !== undefined && [...holders].some((holder) => this.archived.has(holder));
    },
  });
}

/**
 * The counter's cross-aggregate rules: unique names. A pending create or rename that meets a
 * name the server's events brought is re-decided (and so rejected after sync); two counters
 * that were both accepted under one name are settled the same way on every device: the one
 * created first (time, then id) keeps it, the other is renamed like `Milk (2)`. Should two
 * devices both rename it, the second rename is re-run on sync, finds the name already changed,
 * and writes nothing.
 */
export function uniqueNames(hooks: RuleHooks): ModelRules<CounterState, CounterContext> {
  const names = new NameIndex();
  names.onCollision = (displaced) => hooks.recheck(displaced);
  return {
    observe: names.onState,
    context: names.contextFor,
    async settle(read) {
      const duplicates = names.duplicates();
      if (duplicates.length === 0) return [];
      const rows = new Map((await read(counterList)).map((row) => [row.id, row]));
      const renames: FollowUp[] = [];
      const taken = new Set<string>();
      for (const [, holders] of duplicates) {
        // An archived counter takes no rename, so it keeps its name and a live one gives it up.
        const ranked = holders
          .map((id) => rows.get(id))
          .filter((row) => row !== undefined)
          .sort(
            (a, b) =>
              Number(!a.archived) - Number(!b.archived) ||
              a.createdAt - b.createdAt ||
              a.id.localeCompare(b.id),
          );
        for (const row of ranked.slice(1)) {
          const name = names.freeName(row.name, taken);
          taken.add(nameKey(name));
          renames.push({ stream: row.id, commands: [{ type: 'rename', name }] });
        }
      }
      return renames;
    },
  };
}
