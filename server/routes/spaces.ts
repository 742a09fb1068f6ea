import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { TallyError } from '../../core/errors.ts';
import type { CreateSpaceResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import type { SpaceTokens } from '../auth.ts';

/**
 * `POST /api/spaces` → 201 `{ space, token }`. A space needs no storage until its first push:
 * the token alone, signed by the server, proves that the server created it.
 */
export function spacesRoute(options: { tokens: SpaceTokens; allowCreateSpaces: boolean }) {
  return new Hono<AppEnv>().post('/api/spaces', (c) => {
    if (!options.allowCreateSpaces)
      throw new TallyError('forbidden', 'This server does not let anyone create spaces.');
    // 144 random bits: unguessable, and 24 base64url characters fit the space id format.
    const space = randomBytes(18).toString('base64url');
    const body: CreateSpaceResponse = { space, token: options.tokens.issue(space) };
    return c.json(body, 201);
  });
}
