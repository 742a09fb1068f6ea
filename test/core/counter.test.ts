import { describe, expect, it } from 'vitest';
import { decideBatch, type Rejection } from '../../core/decider.ts';
import {
  counter,
  counterCommandSchema,
  counterStateSchema,
  noCounterContext,
  type CounterCommand,
  type CounterContext,
  type CounterEvent,
} from '../../core/counter.ts';

/** Given these events, when this command (or batch), then these events or this rejection. */
function given(events: readonly CounterEvent[], context: CounterContext = noCounterContext) {
  const state = events.reduce(counter.evolve, counter.initialState());
  return {
    when(commands: CounterCommand | readonly CounterCommand[]) {
      const batch = Array.isArray(commands) ? commands : [commands as CounterCommand];
      const decision = decideBatch(counter, state, batch, context);
      return {
        then(expected: readonly CounterEvent[]) {
          expect(decision).toMatchObject({ type: 'decided', events: expected });
        },
        thenRejected(reason: RegExp) {
          expect(decision.type).toBe('rejected');
          expect((decision as Rejection).reason).toMatch(reason);
        },
      };
    },
  };
}

const created = (name = 'Coffee'): CounterEvent => ({ type: 'Created', data: { name } });
const incremented: CounterEvent = { type: 'Incremented', data: {} };
const decremented: CounterEvent = { type: 'Decremented', data: {} };
const taken = (...names: string[]): CounterContext => ({
  isNameTaken: (name) => names.map((n) => n.toLowerCase()).includes(name.toLowerCase()),
});

describe('counter model', () => {
  describe('create', () => {
    it('creates a counter at zero', () =>
      given([]).when({ type: 'create', name: 'Coffee' }).then([created()]));
    it('rejects creating twice', () =>
      given([created()])
        .when({ type: 'create', name: 'Tea' })
        .thenRejected(/already exists/));
    it('rejects a name another counter has, ignoring case', () =>
      given([], taken('Coffee'))
        .when({ type: 'create', name: 'coffee' })
        .thenRejected(/already a counter named/));
  });

  describe('increment', () => {
    it('increments', () => given([created()]).when({ type: 'increment' }).then([incremented]));
    it('rejects a counter that does not exist', () =>
      given([])
        .when({ type: 'increment' })
        .thenRejected(/does not exist/));
  });

  describe('decrement', () => {
    it('decrements above zero', () =>
      given([created(), incremented]).when({ type: 'decrement' }).then([decremented]));
    it('rejects going below zero', () =>
      given([created(), incremented, decremented])
        .when({ type: 'decrement' })
        .thenRejected(/already at zero/));
    it('rejects a counter that does not exist', () =>
      given([])
        .when({ type: 'decrement' })
        .thenRejected(/does not exist/));
  });

  describe('rename', () => {
    it('renames', () =>
      given([created()])
        .when({ type: 'rename', name: 'Tea' })
        .then([{ type: 'Renamed', data: { name: 'Tea' } }]));
    it('renaming to the same name changes nothing', () =>
      given([created()]).when({ type: 'rename', name: 'Coffee' }).then([]));
    it('may change only the case of its own name', () =>
      given([created()], taken('Coffee'))
        .when({ type: 'rename', name: 'COFFEE' })
        .then([{ type: 'Renamed', data: { name: 'COFFEE' } }]));
    it('rejects a name another counter has', () =>
      given([created()], taken('Tea'))
        .when({ type: 'rename', name: 'Tea' })
        .thenRejected(/already a counter named/));
    it('rejects a counter that does not exist', () =>
      given([])
        .when({ type: 'rename', name: 'Tea' })
        .thenRejected(/does not exist/));
  });

  describe('batches are one atomic decision', () => {
    it('the seed’s increment-twice is two events', () =>
      given([created()])
        .when([{ type: 'increment' }, { type: 'increment' }])
        .then([incremented, incremented]));
    it('each command sees the state the previous one left', () =>
      given([created(), incremented])
        .when([{ type: 'decrement' }, { type: 'increment' }, { type: 'decrement' }])
        .then([decremented, incremented, decremented]));
    it('one rejection rejects the whole batch', () =>
      given([created(), incremented])
        .when([{ type: 'decrement' }, { type: 'decrement' }])
        .thenRejected(/already at zero/));
  });

  describe('evolve', () => {
    it('folds events into the value', () => {
      const state = [created(), incremented, incremented, decremented].reduce(
        counter.evolve,
        counter.initialState(),
      );
      expect(state).toEqual({ exists: true, name: 'Coffee', value: 1 });
    });
  });

  describe('events no rule here would decide', () => {
    it('a Decremented at zero (from a faulty client) folds to zero, never below', () => {
      const state = [created(), decremented].reduce(counter.evolve, counter.initialState());
      expect(state).toEqual({ exists: true, name: 'Coffee', value: 0 });
      expect(counterStateSchema.safeParse(state).success).toBe(true);
    });
  });

  describe('command schema (validated at the thread boundary)', () => {
    it('trims and collapses whitespace in names', () =>
      expect(counterCommandSchema.parse({ type: 'create', name: '  Morning   coffee ' })).toEqual({
        type: 'create',
        name: 'Morning coffee',
      }));
    it.each([
      [{ type: 'create', name: '   ' }],
      [{ type: 'create', name: 'x'.repeat(61) }],
      [{ type: 'create' }],
      [{ type: 'explode' }],
      [{ type: 'increment', by: 5 }],
      [null],
      ['increment'],
    ])('rejects %j', (input) => expect(counterCommandSchema.safeParse(input).success).toBe(false));
  });
});
