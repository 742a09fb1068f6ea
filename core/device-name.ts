/**
 * The rule for a device's name, with no schema library: the page checks a name as a person types
 * it with the same rule the server holds it to (core/protocol.ts `deviceNameSchema`).
 */

/**
 * Characters a device name drops: controls (NUL, escapes), zero-width spaces and joiners, the
 * BOM, and the marks that reorder text (bidi embeddings, overrides and isolates): shown to every
 * device of the space, a name must read as what it is and cannot pass for another device's.
 */
const hiddenInNames = /[\p{Cc}\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/gu;

export const maxDeviceNameLength = 60;

/** A device name as the server keeps it: NFC, what hides dropped, whitespace collapsed and trimmed. */
export const normalDeviceName = (name: string): string =>
  name.normalize('NFC').replace(hiddenInNames, '').replace(/\s+/g, ' ').trim();

/** Why a name (as typed) cannot be a device's name; undefined when it can. */
export function deviceNameProblem(typed: string): string | undefined {
  if (!typed.isWellFormed()) return 'A device name cannot hold broken characters.';
  const name = normalDeviceName(typed);
  if (name.length === 0) return 'A device needs a name.';
  if (!/[\p{L}\p{N}\p{P}\p{S}]/u.test(name)) return 'A device name needs a visible character.';
  if (name.length > maxDeviceNameLength)
    return `A device name is at most ${maxDeviceNameLength} characters.`;
  return undefined;
}
