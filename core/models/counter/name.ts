/**
 * The counter's rule for names, with no schema library: the page checks a name as a person
 * types it with the same rule the model and the server hold it to.
 */

import { plainText, showsSomething } from '../../plain-text.ts';

export const maxNameLength = 60;

/**
 * A name as Tally keeps it (core/plain-text.ts): controls, invisible formatting characters and
 * Hangul fillers gone, NFC, whitespace collapsed and trimmed.
 */
export const normalName = plainText;

/** Names are unique whatever their letter case and spacing: the key they are compared by. */
export const nameKey = (name: string): string => name.trim().replace(/\s+/g, ' ').toLowerCase();

/** Why a name (normal, and as typed) cannot be a counter's name; undefined when it can. */
export function nameProblem(name: string, typed = name): string | undefined {
  if (!name.isWellFormed()) return 'A counter name cannot hold broken characters.';
  if (name.length === 0)
    return typed.trim() === ''
      ? 'A counter needs a name.'
      : 'A counter name needs a visible character.';
  if (!showsSomething(name)) return 'A counter name needs a visible character.';
  if (name.length > maxNameLength) return `A counter name is at most ${maxNameLength} characters.`;
  return undefined;
}

/** What a person will see for a stored name that has nothing visible left once normal. */
export const unnamedCounter = 'Unnamed counter';

/** Printable ASCII words, one space between: normal (NFC changes no ASCII), visible, well formed. */
const plainName = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

/**
 * A stored name in today's form: normal (NFC, no invisible characters, single spaces), well
 * formed, at most 60 characters; one with nothing visible left, `unnamedCounter`. Deterministic
 * and idempotent, so every device and server reads an older build's name the same way.
 */
export function legacyName(stored: string): string {
  // Almost every name: printable ASCII words with single spaces is already in today's form.
  if (stored.length <= maxNameLength && plainName.test(stored)) return stored;
  let name = normalName(stored.toWellFormed());
  // NFC can lengthen a name: cut it, then make the cut normal again (it may end in a space).
  for (let tries = 0; tries < 4 && name.length > maxNameLength; tries++) {
    let cut = name.slice(0, maxNameLength);
    if (!cut.isWellFormed()) cut = cut.slice(0, -1); // a character cut in half
    name = normalName(cut);
  }
  return name === normalName(name) && nameProblem(name) === undefined ? name : unnamedCounter;
}
