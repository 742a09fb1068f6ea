import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import { counterId, listCounters, engineFixture } from '../helpers/engine.ts';

const open = engineFixture({ syncing: true });

const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
  event as EventEnvelope<CounterEvent>;

describe('receiving the server’s events', () => {
  it('rebases every pending command, however many more there are than events received', async () => {
    const engine = await open();
    const id = counterId(1);
    const created = await engine.execute(id, { type: 'create', name: 'Long' });
    if (created.type !== 'accepted') throw new Error('create was rejected');
    await engine.receive(id, created.events.map(strip));
    const pending = 100;
    let first: EventEnvelope<CounterEvent> | undefined;
    for (let i = 0; i < pending; i++) {
      const result = await engine.execute(id, { type: 'increment' });
      if (result.type !== 'accepted') throw new Error('increment was rejected');
      first ??= strip(result.events[0]!);
    }
    // Another device's increment took version 2 first.
    const theirs: EventEnvelope<CounterEvent> = {
      ...first!,
      id: 'evt-theirs-000001',
      meta: { ...first!.meta, device: 'device-other-1', command: 'cmd-theirs-00001' },
    };
    const outcome = await engine.receive(id, [theirs]);
    expect(outcome).toMatchObject({ type: 'applied', confirmed: 2, version: 2 + pending });
    expect(await engine.db.count('outbox')).toBe(pending);
    expect((await listCounters(engine)).map((row) => row.value)).toEqual([1 + pending]);
  });
});
