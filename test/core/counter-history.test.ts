import { describe, expect, it } from 'vitest';
import {
  byDay,
  dayOf,
  historyLines,
  joinedDay,
  perDay,
  type HistoryEvent,
} from '../../core/models/counter/history.ts';
import { undoCommands, undoOf } from '../../core/models/counter/undo.ts';
import {
  counter,
  type CounterCommand,
  type CounterState,
} from '../../core/models/counter/decider.ts';
import { decideBatch } from '../../core/decider.ts';

const at = (day: number, hour: number) => new Date(2026, 10, day, hour).getTime();

/** Events as the engine sends them: the value after each. */
function events(list: [type: string, value: number, time: number, command: string][]) {
  return list.map(([type, value, time, command], i): HistoryEvent => ({
    version: i + 1,
    type,
    name: 'Water',
    value,
    time,
    device: 'd1',
    command,
  }));
}

const water = events([
  ['Created', 0, at(28, 8), 'c1'],
  ['Incremented', 1, at(28, 9), 'c2'],
  // The seed's "increment twice": one batch, one command, one line.
  ['Incremented', 2, at(28, 10), 'c3'],
  ['Incremented', 3, at(28, 10), 'c3'],
  ['Reset', 0, at(29, 7), 'c4'],
  ['Incremented', 4, at(29, 8), 'c5'],
  ['Decremented', 3, at(29, 9), 'c6'],
  ['ValueSet', 10, at(30, 9), 'c7'],
  ['Renamed', 10, at(30, 10), 'c8'],
]);

describe('a history as a person reads it', () => {
  it('one line per action, newest first, with the value after each', () => {
    const lines = historyLines(water);
    expect(lines.map((l) => [l.text, l.value])).toEqual([
      ['Renamed to “Water”', 10],
      ['Set to 10 (was 3)', 10],
      ['−1', 3],
      ['+4', 4],
      ['Reset to 0 (was 3)', 0],
      ['+2', 3],
      ['+1', 1],
      ['Created as “Water”', 0],
    ]);
    expect(lines.map((l) => l.change)).toEqual([0, 7, -1, 4, -3, 2, 1, 0]);
    expect(new Set(lines.map((l) => l.key)).size).toBe(lines.length);
  });

  it('grouped by day, newest day first', () => {
    const days = byDay(historyLines(water));
    expect(days.map((d) => [d.day, d.lines.length])).toEqual([
      [dayOf(at(30, 12)), 2],
      [dayOf(at(29, 12)), 3],
      [dayOf(at(28, 12)), 3],
    ]);
  });

  it('per day: what was counted, over the last 30 days, today last; a reset or set erases none', () => {
    const days = perDay(water, at(30, 20));
    expect(days).toHaveLength(30);
    expect(days.at(-1)!.day).toBe(dayOf(at(30, 12)));
    expect(days.at(0)!.day).toBe(dayOf(new Date(2026, 10, 1, 12).getTime()));
    const totals = Object.fromEntries(
      days.filter((d) => d.total !== 0).map((d) => [d.day, d.total]),
    );
    expect(totals).toEqual({ [dayOf(at(28, 12))]: 3, [dayOf(at(29, 12))]: 3 });
    // Older than 30 days: not in the chart.
    expect(perDay(water, at(28, 12) + 40 * 86_400_000).every((d) => d.total === 0)).toBe(true);
  });

  it('per day on a counter joined from a snapshot: the days before it are not known', () => {
    const joined = events([
      ['Joined', 5, at(29, 10), 'base'],
      ['Incremented', 6, at(29, 11), 'c1'],
      ['Incremented', 7, at(30, 9), 'c2'],
    ]);
    expect(joinedDay(joined)).toBe(dayOf(at(29, 10)));
    expect(joinedDay(water)).toBeUndefined();
    const days = perDay(joined, at(30, 20));
    expect(days.filter((d) => d.known).map((d) => [d.day, d.total])).toEqual([
      [dayOf(at(29, 12)), 1],
      [dayOf(at(30, 12)), 1],
    ]);
    // The value it was joined at is not counted on any day: it was counted elsewhere, before.
    expect(days.filter((d) => !d.known).every((d) => d.total === 0)).toBe(true);
    expect(perDay(water, at(30, 20)).every((d) => d.known)).toBe(true);
  });

  it('a decrement clamped at zero counts nothing', () => {
    const clamped = events([
      ['Created', 0, at(30, 8), 'c1'],
      ['Decremented', 0, at(30, 9), 'c2'],
    ]);
    expect(perDay(clamped, at(30, 12)).at(-1)!.total).toBe(0);
  });
});

describe('undo', () => {
  const fold = (value: number, commands: readonly CounterCommand[]) => {
    const state: CounterState = { exists: true, name: 'Water', value };
    const decided = decideBatch(counter, state, commands, { isNameTaken: () => false });
    if (decided.type !== 'decided') throw new Error(decided.reason);
    return decided.state;
  };
  const valueOf = (state: CounterState) => (state.exists ? state.value : -1);

  for (const [before, after] of [
    [0, 2],
    [5, 4],
    [7, 0],
    [3, 10],
    [0, 50_000],
    [12_000, 0],
    [5_000, 0],
  ] as const)
    it(`takes ${before} → ${after} back to ${before}`, () => {
      expect(valueOf(fold(after, undoCommands(before, after)))).toBe(before);
    });

  it('counts back relatively, so what another device counted meanwhile survives', () => {
    // +3 here (2 → 5), +1 elsewhere (6), then undo: 3.
    expect(valueOf(fold(6, undoCommands(2, 5)))).toBe(3);
    // A reset from 7 (→ 0), +2 elsewhere, undo: 9.
    expect(valueOf(fold(2, undoCommands(7, 0)))).toBe(9);
  });

  it('takes back a rename, a step and an archive, by the commands that set them back', () => {
    const decided = (state: CounterState, commands: readonly CounterCommand[]) => {
      const result = decideBatch(counter, state, commands, { isNameTaken: () => false });
      if (result.type !== 'decided') throw new Error(result.reason);
      return result.state;
    };
    const renamed: CounterState = { exists: true, name: 'Coffee', value: 3 };
    expect(decided(renamed, undoOf({ type: 'rename', before: 'Tea' }))).toEqual({
      ...renamed,
      name: 'Tea',
    });
    const stepped: CounterState = { exists: true, name: 'Tea', value: 3, step: 5 };
    expect(decided(stepped, undoOf({ type: 'setStep', before: 1 }))).toEqual({
      ...stepped,
      step: 1,
    });
    const archived: CounterState = { exists: true, name: 'Tea', value: 3, archived: true };
    expect(decided(archived, undoOf({ type: 'archive' }))).toEqual({
      exists: true,
      name: 'Tea',
      value: 3,
    });
    expect(undoOf({ type: 'value', before: 2, after: 5 })).toEqual(undoCommands(2, 5));
  });
});

describe('the history of a counter joined from a snapshot, before its early history is read', () => {
  it('starts with the value it was joined at, and the changes after it count from there', () => {
    const joined = events([
      ['Joined', 40, at(28, 8), 'joined-counter-x'],
      ['Incremented', 41, at(28, 9), 'c2'],
      ['Decremented', 40, at(28, 10), 'c3'],
    ]);
    expect(historyLines(joined).map(({ text, change, value }) => [text, change, value])).toEqual([
      ['−1', -1, 40],
      ['+1', 1, 41],
      ['Earlier changes are on the sync server', 40, 40],
    ]);
    // The joined value is no change of the day's: the chart counts only what came after.
    expect(perDay(joined, at(28, 12)).at(-1)).toEqual({
      day: dayOf(at(28, 12)),
      total: 0,
      known: true,
    });
  });
});
