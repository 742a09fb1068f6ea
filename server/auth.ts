import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { TallyError } from '../core/errors.ts';
import { spaceIdSchema } from '../core/protocol.ts';
import type { AppEnv } from './app-env.ts';

/**
 * Space tokens are stateless: `t1.<space>.<mac>`, where mac = HMAC-SHA256(secret, space). Naming
 * the space inside the token is what lets the server tell a forged token (401) from a genuine
 * token of another space (403) without storing anything.
 */
const tokenPattern = /^t1\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;
const bearerPattern = /^Bearer ([!-~]{1,200})$/;

/** At least 256 bits of secret, as the HMAC key is also what keeps tokens unforgeable. */
export const minSecretLength = 32;

export interface SpaceTokens {
  issue(space: string): string;
  /** The space a token is genuinely for, or undefined for anything malformed or forged. */
  verify(token: string): string | undefined;
}

export function createSpaceTokens(secret: string): SpaceTokens {
  if (secret.length < minSecretLength)
    throw new TypeError(`The server secret must be at least ${minSecretLength} characters.`);
  // Domain-separated, so the same secret could later sign other kinds of tokens safely.
  const mac = (space: string) =>
    createHmac('sha256', secret).update(`tally/space-token/v1\n${space}`).digest();
  return {
    issue(space) {
      return `t1.${space}.${mac(space).toString('base64url')}`;
    },
    verify(token) {
      const match = tokenPattern.exec(token);
      if (!match) return undefined;
      const [, space = '', given = ''] = match;
      const expected = mac(space);
      const actual = Buffer.from(given, 'base64url');
      // Constant-time, so the comparison leaks nothing about how much of a forged mac was right.
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
      return space;
    },
  };
}

/**
 * Guards `/api/spaces/:space/*`. EventSource cannot set headers, so the live endpoint alone may
 * pass its token as `?token=` (`allowQueryToken`).
 */
export function requireSpaceToken(
  tokens: SpaceTokens,
  options: { allowQueryToken?: boolean } = {},
): MiddlewareHandler<AppEnv> {
  return async function requireSpaceToken(c, next) {
    const space = c.req.param('space') ?? '';
    if (!spaceIdSchema.safeParse(space).success)
      throw new TallyError('invalid', 'That is not a valid space id.');
    const header = c.req.header('Authorization');
    let token: string | undefined;
    if (header !== undefined) token = bearerPattern.exec(header)?.[1];
    else if (options.allowQueryToken) token = c.req.query('token');
    if (token === undefined)
      throw new TallyError('unauthorized', 'This request needs a bearer token for its space.');
    const tokenSpace = tokens.verify(token);
    if (tokenSpace === undefined)
      throw new TallyError('unauthorized', 'That token is not valid on this server.');
    if (tokenSpace !== space)
      throw new TallyError('forbidden', 'That token belongs to another space.');
    c.set('space', space);
    await next();
  };
}
