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

/**
 * A person's change to one counter that Undo can take back: its value, its name, its step, or
 * its archiving. What it was before is all an undo needs.
 */
export type UndoableChange =
  | { readonly type: 'value'; readonly before: number; readonly after: number }
  | { readonly type: 'rename'; readonly before: string }
  | { readonly type: 'setStep'; readonly before: number }
  | { readonly type: 'archive' };

/**
 * The commands that take a change back, as new commands like any other (they sync, and are
 * decided again on rebase): a value counts back (`undoCommands`), a name and a step are set
 * back to what they were, an archived counter is restored.
 */
export function undoOf(change: UndoableChange): CounterCommand[] {
  switch (change.type) {
    case 'value':
      return undoCommands(change.before, change.after);
    case 'rename':
      return [{ type: 'rename', name: change.before }];
    case 'setStep':
      return [{ type: 'setStep', step: change.before }];
    case 'archive':
      return [{ type: 'restore' }];
  }
}
