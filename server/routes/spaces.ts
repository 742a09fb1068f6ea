import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { TallyError } from '../../core/errors.ts';
import type { CreateSpaceResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import type { AccessStore } from '../access-store.ts';
import type { SpaceTokens } from '../auth.ts';
import { clientIp } from '../client-ip.ts';
import type { RateLimits } from '../options.ts';

/**
 * `POST /api/spaces` → 201 `{ space, token }`. A space needs no storage until its first push:
 * the token alone, signed by the server, proves that the server created it. Limited per client
 * address when rate limits are on; without a database there is nothing to limit against.
 */
export function spacesRoute(options: {
  tokens: SpaceTokens;
  rateLimit: RateLimits | false;
  /** Undefined when the server runs without a database. */
  access: AccessStore | undefined;
  allowCreateSpaces: boolean;
}) {
  return new Hono<AppEnv>().post('/api/spaces', async (c) => {
    if (!options.allowCreateSpaces)
      throw new TallyError('forbidden', 'This server does not let anyone create spaces.');
    const { rateLimit, access } = options;
    if (rateLimit && access)
      await access.count('create', clientIp(c), rateLimit.createPerIpPerMinute, rateLimit);
    // 144 random bits: unguessable, and 24 base64url characters fit the space id format.
    const space = randomBytes(18).toString('base64url');
    const body: CreateSpaceResponse = { space, token: options.tokens.issue(space) };
    return c.json(body, 201);
  });
}
