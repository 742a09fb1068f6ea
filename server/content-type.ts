import type { MiddlewareHandler } from 'hono';
import { HttpError } from './errors.ts';

/**
 * 415 for a body in a content coding the server does not read. Per RFC 9110 §12.5.3 it carries
 * `Accept-Encoding` (identity only), which tells a client the coding was the problem, not the
 * media type: a 415 for anything else must not carry it.
 */
export class UnsupportedContentCoding extends HttpError {
  readonly acceptEncoding = 'identity';
  constructor(coding: string) {
    super(
      'invalid',
      `The request body must be sent as it is, not encoded (Content-Encoding: ${coding.slice(0, 40)}).`,
      415,
    );
  }
}

/** The codings a `Content-Encoding` names (RFC 9110 §8.4: a list, applied in order). */
const codingsOf = (header: string): string[] =>
  header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '');

/**
 * Every `charset` parameter of a `Content-Type` (RFC 9110 §8.3.1: names and, for charset, values
 * compare case-insensitively; a value may be a quoted string).
 */
const charsetsOf = (header: string): string[] =>
  header
    .split(';')
    .slice(1)
    .map((parameter) => parameter.split('='))
    .filter(([name]) => name?.trim().toLowerCase() === 'charset')
    .map(([, value = '']) =>
      value
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase(),
    );

/** The labels of UTF-8 (WHATWG Encoding), the only charset a body is read in. */
const utf8 = new Set(['utf-8', 'utf8']);

/**
 * Refuses (415) a request body the routes would misread, from its headers alone and before any
 * handler runs: they read a body as UTF-8 text as it arrives (`c.req.text()`), so a compressed
 * body would be parsed as if plain, and one in another charset decoded wrongly. What each route
 * takes as a media type is its own rule (a push wants `application/json`); only the charset, if
 * one is named, is checked here. GET and HEAD carry no body (RFC 9110 §9.3.1).
 */
export function plainBodies(): MiddlewareHandler {
  return async function plainBodies(c, next) {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const coded = codingsOf(c.req.header('Content-Encoding') ?? '').find(
        (coding) => coding !== 'identity',
      );
      if (coded !== undefined) throw new UnsupportedContentCoding(coded);
      const charset = charsetsOf(c.req.header('Content-Type') ?? '').find(
        (name) => !utf8.has(name),
      );
      if (charset !== undefined)
        throw new HttpError(
          'invalid',
          `The request body must be UTF-8 (Content-Type: application/json; charset=utf-8), not ${charset.slice(0, 40)}.`,
          415,
        );
    }
    await next();
  };
}
