/**
 * The rule for a device's name, with no schema library: the page checks a name as a person types
 * it with the same rule the server holds it to (core/protocol.ts `deviceNameSchema`).
 */

/**
 * Characters a device name drops: controls (NUL, escapes) and every invisible formatting
 * character (`\p{Cf}`: zero-width spaces and joiners, the BOM, the marks that reorder text —
 * bidi embeddings, overrides, isolates, the Arabic letter mark — tag characters), and the Hangul
 * fillers, letters that show as nothing. Shown to every device of the space, a name must read as
 * what it is and cannot pass for another device's. A zero-width joiner between two emoji stays:
 * it makes them one ("👩‍💻").
 */
const hiddenInNames = /[\p{Cc}\p{Cf}\u115F\u1160\u3164\uFFA0]/gu;
const joinsAfter = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]$/u;
const joinsBefore = /^\p{Extended_Pictographic}/u;

export const maxDeviceNameLength = 60;

/** A device name as the server keeps it: NFC, what hides dropped, whitespace collapsed and trimmed. */
export const normalDeviceName = (name: string): string =>
  name
    .normalize('NFC')
    .replace(hiddenInNames, (hidden, at: number, whole: string) =>
      // A code point is at most two code units: what is around the joiner, a character each side.
      hidden === '\u200D' &&
      joinsAfter.test(whole.slice(Math.max(0, at - 2), at)) &&
      joinsBefore.test(whole.slice(at + 1, at + 3))
        ? hidden
        : '',
    )
    .replace(/\s+/g, ' ')
    .trim();

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
