/**
 * What a name shown to people may hold, shared by counter names (core/models/counter/name.ts)
 * and device names (core/device-name.ts): a name must read as what it is, on every device that
 * shows it, and cannot pass for another or show as nothing.
 */

/**
 * Characters a name drops: controls (NUL, escapes; tabs and line breaks are whitespace, made one
 * space below), every invisible formatting character (`\p{Cf}`: zero-width spaces and joiners,
 * the BOM, the marks that reorder text — bidi embeddings, overrides, isolates, the Arabic letter
 * mark — tag characters) and every other character Unicode says to draw as nothing
 * (`\p{Default_Ignorable_Code_Point}`: the Hangul fillers, the combining grapheme joiner,
 * variation selectors, Mongolian selectors…). What makes an emoji stays: a zero-width joiner
 * between two emoji ("👩‍💻"), a variation selector after one ("❤️"), and the tags of a flag
 * ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", Scotland's).
 */
const hidden =
  // eslint-disable-next-line no-control-regex -- dropping control characters is the point
  /(\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F})|[\0-\x08\x0E-\x1F\x7F-\x9F\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
const joinsAfter = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]$/u;
const joinsBefore = /^\p{Extended_Pictographic}/u;
const emojiBefore = /\p{Emoji}$/u;

/** Whether `found`, at `at` in `whole`, is part of an emoji and stays. */
function inEmoji(found: string, at: number, whole: string): boolean {
  // A code point is at most two code units: what is around it, a character each side.
  const before = whole.slice(Math.max(0, at - 2), at);
  if (found === '\u200D')
    return joinsAfter.test(before) && joinsBefore.test(whole.slice(at + 1, at + 3));
  if (found === '\uFE0F' || found === '\uFE0E') return emojiBefore.test(before);
  return false;
}

/**
 * A name in the form Tally keeps: what hides dropped, then NFC (dropping a character can bring a
 * letter and its accent together, so NFC comes after), the Braille blank (a symbol drawn as an
 * empty cell) taken as a space, whitespace collapsed and trimmed. Idempotent.
 */
export const plainText = (name: string): string =>
  name
    .replace(hidden, (found: string, flag: string | undefined, at: number, whole: string) =>
      flag !== undefined || inEmoji(found, at, whole) ? found : '',
    )
    .normalize('NFC')
    .replaceAll('\u2800', ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** Whether a plain name shows something: a letter, digit, punctuation mark or symbol. */
export const showsSomething = (name: string): boolean => /[\p{L}\p{N}\p{P}\p{S}]/u.test(name);
