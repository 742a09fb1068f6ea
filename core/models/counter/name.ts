/**
 * The counter's rule for names, with no schema library: the page checks a name as a person
 * types it with the same rule the model and the server hold it to.
 */

/** Invisible characters a pasted name may carry: zero-width spaces and joiners, the BOM. */
const invisible = /[\u200B-\u200D\u2060\uFEFF]/g;

export const maxNameLength = 60;

/** A name as Tally keeps it: NFC, invisible characters gone, whitespace collapsed and trimmed. */
export const normalName = (name: string): string =>
  name.normalize('NFC').replace(invisible, '').replace(/\s+/g, ' ').trim();

/** Why a name (normal, and as typed) cannot be a counter's name; undefined when it can. */
export function nameProblem(name: string, typed = name): string | undefined {
  if (!name.isWellFormed()) return 'A counter name cannot hold broken characters.';
  if (name.length === 0)
    return typed.trim() === ''
      ? 'A counter needs a name.'
      : 'A counter name needs a visible character.';
  if (!/[\p{L}\p{N}\p{P}\p{S}]/u.test(name)) return 'A counter name needs a visible character.';
  if (name.length > maxNameLength) return `A counter name is at most ${maxNameLength} characters.`;
  return undefined;
}
