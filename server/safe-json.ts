import { TallyError } from '../core/errors.ts';

/**
 * Keys that would reach an object's prototype when a parsed body is copied or merged. JSON.parse
 * itself only creates own properties, but the next `{ ...spread }`, `Object.assign` or schema
 * library that assigns keys one by one may not: refusing them at the edge is the simple rule.
 */
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);
/** Any of them, or a backslash (an escape could spell one without the plain letters). */
const suspicious = /__proto__|constructor|prototype|\\/;

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new TallyError('invalid', 'The request body is empty.');
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
