import { TallyError } from '../core/errors.ts';

/**
 * Keys that would reach an object's prototype when a parsed body is copied or merged. JSON.parse
 * itself only creates own properties, but the next `{ ...spread }`, `Object.assign` or schema
 * library that assigns keys one by one may not: refusing them at the edge is the simple rule.
 */
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new TallyError('invalid', 'The request body is empty.');
  try {
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
