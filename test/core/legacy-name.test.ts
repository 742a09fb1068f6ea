import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  legacyName,
  nameProblem,
  normalName,
  unnamedCounter,
} from '../../core/models/counter/decider.ts';
import { counterModel } from '../../core/models/counter/model.ts';

/** What the server refuses in a pushed name (undefined: it takes it). */
const refused = (name: string) =>
  counterModel.checkSequence?.(0, [{ version: 1, type: 'Created', data: { name } }]);

// Names an older build could have stored: odd Unicode, spaces, invisible characters, lone
// surrogates, letters that NFC composes or lengthens (U+FB44, U+0958).
const oddName = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 4 }),
      fc.constantFrom(' ', '  ', '\t', '\u200B', '\u200D', '\uFEFF', '\uD800', '\uDC00'),
      // What hides or reorders text (kept by builds before the shared rule, core/plain-text.ts),
      // an emoji pair a joiner makes one, and the Braille blank.
      fc.constantFrom('\u202E', '\u200F', '\u2066', '\u3164', '\u115F', '\u0007', '\u2800'),
      fc.constantFrom('👩\u200D💻', '\u200D👩', 'e\u200B\u0301', '❤\uFE0F', 'a\uFE00', '\u034F'),
      // Scotland's flag (tags after a black flag), and tags where no flag is.
      fc.constantFrom(
        '🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}',
        '\u{E0067}\u{E007F}',
      ),
      fc.constantFrom('e\u0301', '\uFB44', '\u0958', 'a', 'Z', '1', '!'),
      // Printable ASCII and spaces: the common names, which take a shorter way.
      fc.string({ unit: fc.constantFrom('a', 'Z', '9', '~', '!', ' '), maxLength: 70 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

describe('an older build’s counter name read in today’s form', () => {
  it('is a name the server takes, and reading it again changes nothing', () => {
    // The server's rule is live: the raw names are refused.
    expect(refused('Cafe\u0301')).toMatch(/normalised/);
    expect(refused(`\uFB44${'a'.repeat(57)} b`.normalize('NFC').slice(0, 60))).toMatch(
      /normalised/,
    );
    fc.assert(
      fc.property(oddName, (stored) => {
        const name = legacyName(stored);
        expect(name).toBe(normalName(name));
        expect(nameProblem(name)).toBeUndefined();
        expect(refused(name)).toBeUndefined();
        expect(legacyName(name)).toBe(name);
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ['decomposed accents and a zero-width space', 'Cafe\u0301\u200B', 'Café'],
    ['nothing visible', '\u200B\u200D', unnamedCounter],
    ['only Hangul fillers and the Braille blank', '\u3164\u2800\u115F', unnamedCounter],
    ['a right-to-left override', 'Tea\u202E time', 'Tea time'],
    [
      'a flag drawn with tags, kept whole',
      '🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} days',
      '🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} days',
    ],
    ['a variation selector after a letter', 'Water\uFE00', 'Water'],
    ['an accent a zero-width space kept apart', 'Cafe\u200B\u0301', 'Café'],
    ['a lone surrogate', 'Tea\uD800', 'Tea\uFFFD'],
    [
      'NFC making it longer than 60, cut after a space',
      `\uFB44${'a'.repeat(57)} b`,
      `\uFB44${'a'.repeat(57)}`.normalize('NFC'),
    ],
    ['a name of today, unchanged', 'Water (2)', 'Water (2)'],
  ])('%s', (_, stored, shown) => {
    expect(legacyName(stored)).toBe(shown);
  });
});
