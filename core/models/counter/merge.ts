import type { CounterCommand } from './decider.ts';
import { maxStep } from './limits.ts';

/**
 * Merging two counters that sync brought together under one name (issue 12): the name rule keeps
 * both and renames one apart ("Water (2)", core/models/counter/names.ts); the person may then
 * move its count into the other and archive it, in one step.
 */

/** A counter's count moved by counting, at most this many steps: beyond, the person sets it. */
export const maxMergeSteps = 100;

/**
 * The name a counter had before the name rule renamed it apart — "Water" for "Water (2)" — or
 * undefined when its name is not of that form.
 */
export function renamedFrom(name: string): string | undefined {
  const match = /^(.*\S) \(([2-9]|[1-9]\d+)\)$/u.exec(name);
  return match?.[1];
}

/**
 * The commands that add `value` to the counter merged into, counting up in steps (what other
 * devices count meanwhile adds to it, never overwritten, as a set would), as one atomic batch;
 * undefined when it would take more than `maxMergeSteps` steps.
 */
export function mergeCommands(value: number): CounterCommand[] | undefined {
  if (value <= 0) return [];
  if (value > maxStep * maxMergeSteps) return undefined;
  const commands: CounterCommand[] = [];
  for (let left = value; left > 0; left -= maxStep)
    commands.push({ type: 'increment', amount: Math.min(left, maxStep) });
  return commands;
}
