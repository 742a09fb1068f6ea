import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { CounterEvent } from '../../core/models/counter/decider.ts';
import { counterId, engineFixture, listCounters } from '../helpers/engine.ts';

const open = engineFixture({ syncing: true });

const strip = ({ position: _, ...event }: EventEnvelope & { position?: number }) =>
  event as EventEnvelope<CounterEvent>;

describe('a command of ours that comes back under other event ids', () => {
  it('is taken as that command’s outcome, not re-run on top of it', async () => {
    const engine = await open();
    const id = counterId(1);
    const created = await engine.execute(id, { type: 'create', name: 'Once' }, 'cmd-create-0001');
    // The server has the create (confirmed), then our increment, which a re-check rewrote
    // locally while the push of its first version was in flight.
    if (created.type !== 'accepted') throw new Error('create was rejected');
    await engine.receive(id, created.events.map(strip));
    const increment = await engine.execute(id, { type: 'increment' }, 'cmd-increment-01');
    if (increment.type !== 'accepted') throw new Error('increment was rejected');
    const [local] = increment.events;
    const fromServer = { ...strip(local!), id: 'evt-other-id-0001' };
    const outcome = await engine.receive(id, [fromServer]);
    expect(outcome).toMatchObject({ type: 'applied', confirmed: 2, version: 2 });
    const history = await engine.history(id);
    expect(history.map((h) => [h.version, h.value])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    // Read beside the appends: the outbox is written behind them.
    expect(await engine.store.beside(() => engine.db.count('outbox'))).toBe(0);
  });

  it('clears a rejection after sync that the server’s events prove wrong', async () => {
    const engine = await open();
    const id = counterId(2);
    await engine.db.put('rejections', {
      commandId: 'cmd-create-0002',
      stream: id,
      name: 'Milk',
      reason: 'There is already a counter named “Milk”.',
      at: 1,
    });
    const event: EventEnvelope<CounterEvent> = {
      id: 'evt-create-00002',
      stream: id,
      version: 1,
      type: 'Created',
      data: { name: 'Milk' },
      meta: { time: 1, device: engine.device, command: 'cmd-create-0002', schema: 1 },
    };
    await engine.receive(id, [event]);
    expect(await engine.db.count('rejections')).toBe(0);
    expect((await listCounters(engine)).map((r) => r.name)).toEqual(['Milk']);
  });
});
