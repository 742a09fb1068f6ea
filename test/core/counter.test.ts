import { describe, expect, it } from 'vitest';
import { counterCodec } from '../../core/models/counter/codec.ts';
import { counterModel } from '../../core/models/counter/model.ts';
import { decideBatch, type Rejection } from '../../core/decider.ts';
import {
  counter,
  counterCommandSchema,
  counterStateSchema,
  noCounterContext,
  type CounterCommand,
  type CounterContext,
  type CounterEvent,
} from '../../core/models/counter/decider.ts';

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
const incremented: CounterEvent = { type: 'Incremented', data: { amount: 1 } };
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
    it('after sync, keeps a counter made here whose name another device took meanwhile', () =>
      given([], { ...taken('Coffee'), afterSync: true })
        .when({ type: 'create', name: 'coffee' })
        .then([created('coffee')]));
    it('a second Created (a faulty client’s) resets nothing', () =>
      expect(
        [created(), incremented, incremented, created('Reset')].reduce(
          counter.evolve,
          counter.initialState(),
        ),
      ).toEqual({ exists: true, name: 'Coffee', value: 2 }));
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

describe('names as a person types or pastes them', () => {
  it.each([
    ['\u200B', 'A counter name needs a visible character.'],
    ['   ', 'A counter needs a name.'],
    ['\uD800x', 'A counter name cannot hold broken characters.'],
    ['x'.repeat(61), 'A counter name is at most 60 characters.'],
  ])('refuses %j in a sentence', (name, message) => {
    const parsed = counterCommandSchema.safeParse({ type: 'create', name });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual([message]);
  });

  it('normalises: NFC, invisible characters out, spaces collapsed ("a" + 3,900 spaces + "b")', () => {
    expect(counterCommandSchema.parse({ type: 'create', name: `a${' '.repeat(3_900)}b` })).toEqual({
      type: 'create',
      name: 'a b',
    });
    expect(
      counterCommandSchema.parse({ type: 'create', name: 'Cafe\u0301\u200B' }).type === 'create' &&
        (
          counterCommandSchema.parse({ type: 'create', name: 'Cafe\u0301\u200B' }) as {
            name: string;
          }
        ).name,
    ).toBe('Café');
  });
});

describe('reset, set, step and amounts', () => {
  const at = (value: number) => [created(), ...Array.from({ length: value }, () => incremented)];
  it('resets to zero', () =>
    given(at(3))
      .when({ type: 'reset' })
      .then([{ type: 'Reset', data: {} }]));
  it('a reset at zero changes nothing', () => given(at(0)).when({ type: 'reset' }).then([]));
  it('sets a value', () =>
    given(at(1))
      .when({ type: 'set', value: 7 })
      .then([{ type: 'ValueSet', data: { value: 7 } }]));
  it('refuses a value below zero at the edge, in a sentence', () =>
    expect(
      counterCommandSchema.safeParse({ type: 'set', value: -1 }).error?.issues[0]?.message,
    ).toBe('A count cannot be below zero.'));
  it('increments by an amount, and sets a step', () => {
    given(at(0))
      .when({ type: 'increment', amount: 5 })
      .then([{ type: 'Incremented', data: { amount: 5 } }]);
    given(at(0))
      .when({ type: 'setStep', step: 5 })
      .then([{ type: 'StepSet', data: { step: 5 } }]);
  });
  it('folds every one of them', () =>
    expect(
      [
        created(),
        { type: 'Incremented', data: { amount: 5 } } as CounterEvent,
        { type: 'Reset', data: {} } as CounterEvent,
        { type: 'ValueSet', data: { value: 9 } } as CounterEvent,
        { type: 'StepSet', data: { step: 3 } } as CounterEvent,
        decremented,
      ].reduce(counter.evolve, counter.initialState()),
    ).toEqual({ exists: true, name: 'Coffee', value: 8, step: 3 }));
  it('reads an Incremented stored before amounts (schema 1) as one', () => {
    const event = counterCodec.decode({
      id: 'evt-old-00000001',
      stream: 'counter-old0001',
      version: 2,
      type: 'Incremented',
      data: {},
      meta: { time: 1, device: 'device-old-0001', command: 'cmd-old-00000001', schema: 1 },
    });
    expect(event).toMatchObject({ data: { amount: 1 }, meta: { schema: 2 } });
  });
});

describe('archive and restore', () => {
  const archived: CounterEvent = { type: 'Archived', data: {} };
  const restored: CounterEvent = { type: 'Restored', data: {} };

  it('archives a counter', () => given([created()]).when({ type: 'archive' }).then([archived]));
  it('archiving twice writes nothing the second time (two devices both archived it)', () =>
    given([created(), archived]).when({ type: 'archive' }).then([]));
  it('restores an archived counter with its count', () => {
    given([created(), incremented, archived]).when({ type: 'restore' }).then([restored]);
    expect(
      [created(), incremented, archived, restored].reduce(counter.evolve, counter.initialState()),
    ).toEqual({ exists: true, name: 'Coffee', value: 1 });
  });
  it('restoring a counter that is not archived writes nothing', () =>
    given([created()]).when({ type: 'restore' }).then([]));
  it('rejects archiving or restoring a counter that does not exist', () => {
    given([])
      .when({ type: 'archive' })
      .thenRejected(/does not exist/);
    given([])
      .when({ type: 'restore' })
      .thenRejected(/does not exist/);
  });
  it.each<CounterCommand>([
    { type: 'increment' },
    { type: 'increment', amount: 5 },
    { type: 'decrement' },
    { type: 'reset' },
    { type: 'set', value: 3 },
    { type: 'setStep', step: 2 },
    { type: 'rename', name: 'Tea' },
  ])('an archived counter takes no $type', (command) =>
    given([created(), incremented, archived])
      .when(command)
      .thenRejected(/^“Coffee” is archived: restore it to change it\.$/),
  );
  it('after restoring, it takes commands again', () =>
    given([created(), archived, restored]).when({ type: 'increment' }).then([incremented]));
  it('a batch that archives and then counts is rejected whole', () =>
    given([created()])
      .when([{ type: 'archive' }, { type: 'increment' }])
      .thenRejected(/is archived/));
  it('an archived counter keeps its name reserved, and the rejection says where it is', () => {
    const context: CounterContext = { ...taken('Coffee'), isNameArchived: () => true };
    given([], context)
      .when({ type: 'create', name: 'coffee' })
      .thenRejected(/in your archived counters: restore it, or delete it forever/);
    given([created('Tea')], context)
      .when({ type: 'rename', name: 'Coffee' })
      .thenRejected(/in your archived counters/);
  });
  it('the server’s tombstone folds to no counter', () =>
    expect(
      [created(), archived, { type: 'Deleted', data: {} } as CounterEvent].reduce(
        counter.evolve,
        counter.initialState(),
      ),
    ).toEqual({ exists: false }));
  it('archive and restore are commands a tab may send', () => {
    expect(counterCommandSchema.parse({ type: 'archive' })).toEqual({ type: 'archive' });
    expect(counterCommandSchema.safeParse({ type: 'archive', name: 'x' }).success).toBe(false);
    expect(
      counterStateSchema.parse({ exists: true, name: 'Coffee', value: 1, archived: true }),
    ).toMatchObject({ archived: true });
  });
});

describe('the counter model’s rules for archived counters', () => {
  const envelope = (version: number, type: string) => ({ version, type, data: {} });
  it('a push may archive and restore', () =>
    expect(
      counterModel.checkSequence?.(1, [envelope(2, 'Archived'), envelope(3, 'Restored')]),
    ).toBeUndefined());
  it('a push may never carry the server’s tombstone', () =>
    expect(counterModel.checkSequence?.(2, [envelope(3, 'Deleted')])).toMatch(
      /Only the server deletes a counter/,
    ));
  it('only an archived counter may be deleted forever', () => {
    const { refuse } = counterModel.deletion!;
    expect(refuse({ exists: true, name: 'Coffee', value: 2 })).toMatch(/“Coffee” is not archived/);
    expect(refuse({ exists: true, name: 'Coffee', value: 2, archived: true })).toBeUndefined();
    expect(refuse({ exists: false })).toMatch(/does not exist/);
  });
  it('commands are recovered from archive and restore events', () =>
    expect(
      counterModel.commandsOf([
        { ...envelope(2, 'Archived'), id: 'a', stream: 'counter-x', meta: {} },
        { ...envelope(3, 'Restored'), id: 'b', stream: 'counter-x', meta: {} },
      ] as never),
    ).toEqual([{ type: 'archive' }, { type: 'restore' }]));
});
