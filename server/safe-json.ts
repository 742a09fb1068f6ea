import { TallyError } from '../core/errors.ts';

/**
 * Keys that would reach an object's prototype when a parsed body is copied or merged. JSON.parse
 * itself only creates own properties, but the next `{ ...spread }`, `Object.assign` or schema
 * library that assigns keys one by one may not: refusing them at the edge is the simple rule.
 */
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);
/** Any of them, or a backslash (an escape could spell one without the plain letters). */
const suspicious = /__proto__|constructor|prototype|\\/;

/**
 * How deeply a body may nest arrays and objects. A push nests five levels down to an event's
 * data; V8 parses far deeper than JSON.stringify (recursive) can write back, so a body nested
 * deeper than this is refused before it is parsed at all.
 */
export const maxJsonDepth = 64;

/**
 * Whether `text` opens more than `max` arrays or objects inside one another (strings skipped:
 * each is jumped over to its closing quote, one no odd run of backslashes escapes).
 */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (;;) {
        const end = text.indexOf('"', i + 1);
        // Never closed: not JSON, which the parse says.
        if (end === -1) return false;
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        i = end;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new TallyError('invalid', 'The request body is empty.');
  if (nestsDeeperThan(text, maxJsonDepth))
    throw new TallyError(
      'invalid',
      `The request body is nested more than ${maxJsonDepth} levels deep.`,
    );
  try {
    // The reviver costs three times a plain parse. A body whose text never spells a forbidden
    // name and has no backslash (no escape could spell one) cannot hold such a key.
    if (!suspicious.test(text)) return JSON.parse(text) as unknown;
    return JSON.parse(text, (key, value: unknown) => {
      if (forbiddenKeys.has(key)) throw new ForbiddenKey(key);
      return value;
    });
  } catch (error) {
    if (error instanceof ForbiddenKey)
      throw new TallyError('invalid', `The key “${error.key}” is not allowed in a request body.`);
    throw new TallyError('invalid', 'The request body is not valid JSON.');
  }
}

class ForbiddenKey extends Error {
  constructor(readonly key: string) {
    super(key);
  }
}
