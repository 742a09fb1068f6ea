/**
 * What a name shown to people may hold, shared by counter names (core/models/counter/name.ts)
 * and device names (core/device-name.ts): a name must read as what it is, on every device that
 * shows it, and cannot pass for another or show as nothing.
 */

/**
 * Characters a name drops: controls (NUL, escapes; tabs and line breaks are whitespace, made one
 * space below) and every invisible formatting character
 * (`\p{Cf}`: zero-width spaces and joiners, the BOM, the marks that reorder text — bidi
 * embeddings, overrides, isolates, the Arabic letter mark — tag characters), and the Hangul
 * fillers, letters that show as nothing. A zero-width joiner between two emoji stays: it makes
 * them one ("👩‍💻").
 */
// eslint-disable-next-line no-control-regex -- dropping control characters is the point
const hidden = /[\0-\x08\x0E-\x1F\x7F-\x9F\p{Cf}\u115F\u1160\u3164\uFFA0]/gu;
const joinsAfter = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]$/u;
const joinsBefore = /^\p{Extended_Pictographic}/u;

/**
 * A name in the form Tally keeps: what hides dropped, then NFC (dropping a character can bring a
 * letter and its accent together, so NFC comes after), whitespace collapsed and trimmed.
 * Idempotent.
 */
export const plainText = (name: string): string =>
  name
    .replace(hidden, (found, at: number, whole: string) =>
      // A code point is at most two code units: what is around the joiner, a character each side.
      found === '\u200D' &&
      joinsAfter.test(whole.slice(Math.max(0, at - 2), at)) &&
      joinsBefore.test(whole.slice(at + 1, at + 3))
        ? found
        : '',
    )
    .normalize('NFC')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Whether a plain name shows something: a letter, digit, punctuation mark or symbol other than
 * the Braille blank (a symbol drawn as an empty cell).
 */
export const showsSomething = (name: string): boolean =>
  /[\p{L}\p{N}\p{P}\p{S}]/u.test(name.replaceAll('\u2800', ''));
