import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counter,
  counterStateSchema,
  noCounterContext,
  type CounterCommand,
  type CounterEvent,
} from '../../core/models/counter/decider.ts';
import type { EventEnvelope } from '../../core/envelope.ts';
import type { PendingCommand } from '../../core/event-store.ts';
import { rebase } from '../../core/rebase.ts';

const stream = 'counter-rebase1';
let ids = 0;
const envelope = (
  event: CounterEvent,
  version: number,
  command: string,
  time = 1,
): EventEnvelope<CounterEvent> =>
  ({
    ...event,
    id: `ev-${++ids}-xxxxxx`,
    stream,
    version,
    meta: { time, device: 'device-test-1', command, schema: 1 },
  }) as EventEnvelope<CounterEvent>;

const options = {
  decider: counter,
  stream,
  context: noCounterContext,
  parseCommands: (raw: readonly unknown[]) => raw as readonly CounterCommand[],
  now: () => 99,
  label: (state: { exists: boolean; name?: string }) => (state.exists ? state.name : undefined),
  stamp: (event: CounterEvent, at: { commandId: string; version: number; time: number }) =>
    envelope(event, at.version, at.commandId, at.time),
};

const created = envelope({ type: 'Created', data: { name: 'Coffee' } }, 1, 'cmd-create-1');
const up = (version: number) =>
  envelope({ type: 'Incremented', data: { amount: 1 } }, version, 'cmd-up-remote');
const down = (version: number) =>
  envelope({ type: 'Decremented', data: {} }, version, 'cmd-down-remote');

describe('rebase', () => {
  it('keeps a pending command that still passes, with fresh events after the server’s', () => {
    const pending: PendingCommand<CounterEvent>[] = [
      { commandId: 'cmd-mine-1', commands: [{ type: 'increment' }], events: [up(2)] },
    ];
    const result = rebase({ confirmed: [created, up(2)], pending }, options);
    expect(result.rejected).toEqual([]);
    expect(result.pending).toHaveLength(1);
    expect(result.pending[0]!.events.map((e) => [e.version, e.type, e.meta.command])).toEqual([
      [3, 'Incremented', 'cmd-mine-1'],
    ]);
    expect(result.state).toEqual({ exists: true, name: 'Coffee', value: 2 });
  });

  it('rejects after sync a decrement the server’s decrement made impossible', () => {
    const pending: PendingCommand<CounterEvent>[] = [
      { commandId: 'cmd-mine-2', commands: [{ type: 'decrement' }], events: [down(3)] },
    ];
    const result = rebase({ confirmed: [created, up(2), down(3)], pending }, options);
    expect(result.pending).toEqual([]);
    expect(result.rejected).toEqual([
      {
        commandId: 'cmd-mine-2',
        stream,
        reason: '“Coffee” is already at zero.',
        name: 'Coffee',
        at: 99,
      },
    ]);
    expect(result.version).toBe(3);
  });

  it('property: whatever the server did, every pending command is kept or rejected, never below zero', () => {
    const command = fc.constantFrom<CounterCommand>({ type: 'increment' }, { type: 'decrement' });
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 12 }),
        fc.array(fc.array(command, { minLength: 1, maxLength: 3 }), { maxLength: 10 }),
        (serverUps, batches) => {
          const confirmed = [created];
          let value = 0;
          for (const isUp of serverUps) {
            if (!isUp && value === 0) continue;
            value += isUp ? 1 : -1;
            confirmed.push(isUp ? up(confirmed.length + 1) : down(confirmed.length + 1));
          }
          const pending = batches.map((commands, i) => ({
            commandId: `cmd-p-${i}-xxxx`,
            commands,
            events: [],
          }));
          const result = rebase({ confirmed, pending }, options);
          // Rejections that follow one another are told once, with how many came after.
          const told = result.rejected.reduce((n, r) => n + 1 + (r.later ?? 0), 0);
          expect(result.pending.length + told).toBe(batches.length);
          // The kept commands' events follow the confirmed head without gaps…
          const events = result.pending.flatMap((p) => p.events);
          events.forEach((e, i) => expect(e.version).toBe(confirmed.length + i + 1));
          // …and folding everything never goes below zero and ends at the returned state.
          let state = counter.initialState();
          for (const e of [...confirmed, ...events]) {
            state = counter.evolve(state, e);
            if (state.exists) expect(state.value).toBeGreaterThanOrEqual(0);
          }
          expect(state).toEqual(result.state);
          // Order is kept: surviving command ids in their original order.
          const kept = result.pending.map((p) => p.commandId);
          expect(kept).toEqual(
            [...kept].sort((a, b) => Number(a.split('-')[2]) - Number(b.split('-')[2])),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rejections after sync, as a person reads them', () => {
  it('name the counter and are told once for a run of commands that fall out together', () => {
    const pending: PendingCommand<CounterEvent>[] = [
      { commandId: 'cmd-mine-1', commands: [{ type: 'decrement' }], events: [down(3)] },
      { commandId: 'cmd-mine-2', commands: [{ type: 'decrement' }], events: [down(4)] },
      { commandId: 'cmd-mine-3', commands: [{ type: 'increment' }], events: [up(5)] },
      { commandId: 'cmd-mine-4', commands: [{ type: 'decrement' }], events: [down(6)] },
      { commandId: 'cmd-mine-5', commands: [{ type: 'decrement' }], events: [down(7)] },
    ];
    const result = rebase({ confirmed: [created, up(2), down(3)], pending }, options);
    // At zero: the first two fall out together; the increment passes; of the last two, one
    // decrement passes and the other falls out on its own.
    expect(result.pending.map((p) => p.commandId)).toEqual(['cmd-mine-3', 'cmd-mine-4']);
    expect(result.rejected).toEqual([
      {
        commandId: 'cmd-mine-1',
        stream,
        reason: '“Coffee” is already at zero.',
        name: 'Coffee',
        at: 99,
        later: 1,
      },
      {
        commandId: 'cmd-mine-5',
        stream,
        reason: '“Coffee” is already at zero.',
        name: 'Coffee',
        at: 99,
      },
    ]);
  });

  it('tell apart a later command that fails for a reason of its own', () => {
    const pending: PendingCommand<CounterEvent>[] = [
      { commandId: 'cmd-mine-1', commands: [{ type: 'decrement' }], events: [down(4)] },
      { commandId: 'cmd-mine-2', commands: [{ type: 'decrement' }], events: [down(5)] },
      {
        commandId: 'cmd-mine-3',
        commands: [{ type: 'rename', name: 'Tea' }],
        events: [envelope({ type: 'Renamed', data: { name: 'Tea' } }, 6, 'cmd-mine-3')],
      },
    ];
    const result = rebase(
      { confirmed: [created, up(2), down(3)], pending },
      {
        ...options,
        context: { ...options.context, isNameTaken: (name: string) => name === 'Tea' },
      },
    );
    expect(result.pending).toEqual([]);
    expect(result.rejected.map((r) => [r.commandId, r.reason, r.later])).toEqual([
      ['cmd-mine-1', '“Coffee” is already at zero.', 1],
      ['cmd-mine-3', expect.stringMatching(/Tea/), undefined],
    ]);
  });

  it('still name a counter whose create fell out', () => {
    // The create and an increment are pending; the stored commands can no longer be read, so
    // both fall out: the person still reads which counter, from the events they had made.
    const pending: PendingCommand<CounterEvent>[] = [
      {
        commandId: 'cmd-mine-1',
        commands: [{ type: 'create', name: 'Coffee' }],
        events: [created],
      },
      { commandId: 'cmd-mine-2', commands: [{ type: 'increment' }], events: [up(2)] },
    ];
    const unreadable = {
      ...options,
      parseCommands: (): readonly CounterCommand[] => {
        throw new Error('unreadable');
      },
    };
    const result = rebase({ confirmed: [], pending }, unreadable);
    expect(result.rejected).toEqual([
      {
        commandId: 'cmd-mine-1',
        stream,
        reason: 'This change was stored in a form Tally can no longer read.',
        name: 'Coffee',
        at: 99,
        later: 1,
      },
    ]);
  });
});

describe('rebase of a stream joined from a snapshot', () => {
  const base = { version: 4, state: { exists: true, name: 'Coffee', value: 1 } };
  const parseState = (raw: unknown) => counterStateSchema.parse(raw);

  it('starts from the base: its state and version, the server’s events after it', () => {
    const pending: PendingCommand<CounterEvent>[] = [
      { commandId: 'cmd-mine-down', commands: [{ type: 'decrement' }], events: [down(5)] },
      { commandId: 'cmd-mine-up', commands: [{ type: 'increment' }], events: [up(6)] },
    ];
    const result = rebase({ base, confirmed: [down(5)], pending }, { ...options, parseState });
    // The server's decrement took the counter to 0: ours cannot follow; the increment can.
    expect(result.rejected.map((r) => [r.commandId, r.name])).toEqual([
      ['cmd-mine-down', 'Coffee'],
    ]);
    expect(result.pending.map((c) => c.events.map((e) => e.version))).toEqual([[6]]);
    expect(result.version).toBe(6);
    expect(result.state).toMatchObject({ exists: true, name: 'Coffee', value: 1 });
  });

  it('refuses a base it has no way to read', () => {
    expect(() => rebase({ base, confirmed: [], pending: [] }, options)).toThrow(/snapshot/);
  });
});
