import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { payloadTooLarge } from '../errors.ts';
import { TallyError } from '../../core/errors.ts';
import { z } from 'zod';
import { deviceNameSchema, type CreateSpaceResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import type { AccessStore } from '../access-store.ts';
import type { SpaceTokens } from '../auth.ts';
import { clientIp } from '../client-ip.ts';
import type { RateLimits } from '../options.ts';
import { parseJsonBody } from '../safe-json.ts';

const createBody = z.strictObject({ name: z.optional(deviceNameSchema) });

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
  const small = bodyLimit({
    maxSize: 4_096,
    onError: () => {
      throw payloadTooLarge(4_096);
    },
  });
  return new Hono<AppEnv>().post('/api/spaces', small, async (c) => {
    if (!options.allowCreateSpaces)
      throw new TallyError('forbidden', 'This server does not let anyone create spaces.');
    const { rateLimit, access } = options;
    if (rateLimit && access)
      await access.count('create', clientIp(c), rateLimit.createPerIpPerMinute, rateLimit);
    // The device that creates the space is its first device, under the name it gives.
    const text = await c.req.text();
    const parsed = text.trim() === '' ? undefined : createBody.safeParse(parseJsonBody(text));
    if (parsed && !parsed.success)
      throw new TallyError(
        'invalid',
        `The body is malformed: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
      );
    // 144 random bits: unguessable, and 24 base64url characters fit the space id format.
    const space = randomBytes(18).toString('base64url');
    const token = options.tokens.issue(space);
    await access?.addDevice(
      space,
      options.tokens.verify(token)!.device,
      parsed?.data.name ?? 'A device',
    );
    const body: CreateSpaceResponse = { space, token };
    return c.json(body, 201);
  });
}
