import { describe, expect, it } from 'vitest';
import { maxJsonDepth, parseJsonBody } from '../../server/safe-json.ts';

const nested = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

describe('a request body’s nesting (parseJsonBody)', () => {
  it('takes a body nested as deep as allowed, and refuses one level more', () => {
    expect(parseJsonBody(nested(maxJsonDepth))).toBeTruthy();
    expect(() => parseJsonBody(nested(maxJsonDepth + 1))).toThrow(/nested more than 64/);
    expect(() => parseJsonBody(`{"a":${nested(maxJsonDepth)}}`)).toThrow(/nested/);
  });

  it('counts no bracket inside a string, whatever it escapes', () => {
    const brackets = '[{'.repeat(200);
    for (const text of [
      `{"a":"${brackets}"}`,
      // An escaped quote does not end the string; an escaped backslash before a quote does.
      `{"a":"\\"${brackets}"}`,
      `{"a":"x\\\\","b":"${brackets}\\\\"}`,
      `["\\\\\\"${brackets}"]`,
    ])
      expect(parseJsonBody(text)).toEqual(JSON.parse(text));
  });

  it('counts the brackets after a string that ends in escaped backslashes', () => {
    // The string is `\\` (two characters); the nesting after it is real.
    expect(() => parseJsonBody(`["\\\\\\\\",${nested(maxJsonDepth)}]`)).toThrow(/nested/);
    // A quote escaped after backslashes keeps the string open over the brackets.
    expect(parseJsonBody(`["\\\\\\"${'['.repeat(100)}"]`)).toEqual([`\\"${'['.repeat(100)}`]);
  });

  it('refuses a string never closed as not JSON, and nothing else is read', () => {
    expect(() => parseJsonBody(`{"a":"${'['.repeat(100)}`)).toThrow(/not valid JSON/);
  });
});
