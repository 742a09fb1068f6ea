import { describe, expect, it } from 'vitest';
import { AggregateRegistry } from '../../core/aggregate-registry.ts';
import { counter, noCounterContext, type CounterEvent } from '../../core/models/counter/decider.ts';
import { counterCodec } from '../../core/models/counter/codec.ts';
import type { Commit, EventStore, StoredEvent } from '../../core/event-store.ts';

/** A store whose commits complete when the test says so: the order of answers is the subject. */
function heldStore() {
  const held: { commit: Commit<CounterEvent>; settle: (ok: boolean) => void }[] = [];
  let position = 0;
  const store: EventStore<CounterEvent> = {
    load: async () => ({ snapshot: undefined, events: [] }),
    append: (commit) =>
      new Promise<readonly StoredEvent<CounterEvent>[]>((resolve, reject) =>
        held.push({
          commit,
          settle: (ok) =>
            ok
              ? resolve(commit.events.map((event) => ({ ...event, position: ++position })))
              : reject(new Error('disk full')),
        }),
      ),
  };
  return { store, held };
}

const registry = (store: EventStore<CounterEvent>) =>
  new AggregateRegistry({
    decider: counter,
    store,
    device: 'device-test-1',
    schemaOf: (type) => counterCodec.schemaOf(type),
    context: () => noCounterContext,
  });

const stream = 'counter-held0001';
const settledYet = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  // Enough turns for any answer that does not wait on the store.
  for (let i = 0; i < 20; i++) await Promise.resolve();
  return done;
};

describe('aggregate actor', () => {
  it('answers a rejection only once the commits it was decided on are durable', async () => {
    const { store, held } = heldStore();
    const engine = registry(store);
    const create = engine.execute(stream, { type: 'create', name: 'Held' });
    await expect.poll(() => held.length).toBe(1);
    const increment = engine.execute(stream, { type: 'increment' });
    // Decided at once, on top of the create still in flight.
    await expect.poll(() => held.length).toBe(2);
    const rejected = engine.execute(stream, [{ type: 'decrement' }, { type: 'decrement' }]);
    expect(await settledYet(rejected)).toBe(false);
    held.shift()!.settle(true);
    expect(await settledYet(rejected)).toBe(false);
    held.shift()!.settle(true);
    await expect(create).resolves.toMatchObject({ type: 'accepted', version: 1 });
    await expect(increment).resolves.toMatchObject({ type: 'accepted', version: 2 });
    await expect(rejected).resolves.toMatchObject({ type: 'rejected' });
  });

  it('fails a rejection or no-op with the commit under it, instead of answering from lost state', async () => {
    const { store, held } = heldStore();
    const engine = registry(store);
    const create = engine.execute(stream, { type: 'create', name: 'Lost' });
    await expect.poll(() => held.length).toBe(1);
    const again = engine.execute(stream, { type: 'create', name: 'Other' });
    const same = engine.execute(stream, { type: 'rename', name: 'Lost' });
    held.shift()!.settle(false);
    await expect(create).rejects.toMatchObject({ code: 'unavailable' });
    await expect(again).rejects.toMatchObject({ code: 'unavailable' });
    await expect(same).rejects.toMatchObject({ code: 'unavailable' });
  });
});
