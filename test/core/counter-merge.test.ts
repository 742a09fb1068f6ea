import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counter, noCounterContext } from '../../core/models/counter/decider.ts';
import { maxStep } from '../../core/models/counter/limits.ts';
import { maxMergeSteps, mergeCommands, renamedFrom } from '../../core/models/counter/merge.ts';

describe('merging a counter renamed apart', () => {
  it('finds the name it was renamed from, and only for the rule’s form', () => {
    expect(renamedFrom('Water (2)')).toBe('Water');
    expect(renamedFrom('water (12)')).toBe('water');
    expect(renamedFrom('Tea (1)')).toBeUndefined();
    expect(renamedFrom('Tea (02)')).toBeUndefined();
    expect(renamedFrom('Tea(2)')).toBeUndefined();
    expect(renamedFrom('(2)')).toBeUndefined();
    expect(renamedFrom('Pages')).toBeUndefined();
  });

  it('adds exactly the value, in steps the model takes, or says it is too large', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: maxStep * maxMergeSteps * 2 }), (value) => {
        const commands = mergeCommands(value);
        if (value > maxStep * maxMergeSteps) {
          expect(commands).toBeUndefined();
          return;
        }
        let state = counter.evolve(counter.initialState(), {
          type: 'Created',
          data: { name: 'Water' },
        });
        for (const command of commands!) {
          const events = counter.decide(state, command, noCounterContext);
          expect(Array.isArray(events)).toBe(true);
          for (const event of events as never[]) state = counter.evolve(state, event);
        }
        expect(state.exists && state.value).toBe(value);
        expect(commands!.length).toBeLessThanOrEqual(maxMergeSteps);
      }),
      { numRuns: 300 },
    );
  });
});
