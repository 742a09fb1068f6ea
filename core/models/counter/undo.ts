import type { CounterCommand } from './decider.ts';
import { maxStep } from './limits.ts';

/** Above this many steps down, an undo sets the value instead of counting back. */
const maxCountBack = 100;

/**
 * The commands that take back a person's change of a counter from `before` to `after` (issue
 * 15, item 3). Undo is a new command, so it syncs and is decided again on rebase like any other.
 * It counts back relatively where it can, so what other devices counted meanwhile survives: a
 * +3 is taken back by three −1s in one atomic batch, a reset from 7 by a +7. Only a change too
 * large to count back (a set from 5,000 to 0, say) sets the old value, absolutely.
 */
export function undoCommands(before: number, after: number): CounterCommand[] {
  const delta = before - after;
  if (delta === 0) return [];
  if (delta > 0 && delta <= maxStep * 10) {
    const commands: CounterCommand[] = [];
    for (let left = delta; left > 0; left -= maxStep)
      commands.push({ type: 'increment', amount: Math.min(left, maxStep) });
    return commands;
  }
  if (delta < 0 && -delta <= maxCountBack)
    return Array.from({ length: -delta }, () => ({ type: 'decrement' }) as const);
  return [{ type: 'set', value: before }];
}
