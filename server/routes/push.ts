import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { limits, type PushResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import { payloadTooLarge, unsupportedMediaType } from '../errors.ts';
import { validatePush } from '../push-validation.ts';
import type { SyncStore } from '../redis-store.ts';
import { parseJsonBody } from '../safe-json.ts';

const isJson = (contentType: string | undefined) =>
  contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';

/** `POST /api/spaces/:space/push`, body `PushRequest` → 200 `PushResponse`. */
export function pushRoute(options: { gate: SpaceGate; store: () => SyncStore }) {
  return new Hono<AppEnv>().post(
    '/api/spaces/:space/push',
    requireSpaceToken(options.gate, { admitAlongside: true }),
    bodyLimit({
      maxSize: limits.maxBodyBytes,
      onError: () => {
        throw payloadTooLarge(limits.maxBodyBytes);
      },
    }),
    async (c) => {
      let streams;
      try {
        if (!isJson(c.req.header('Content-Type'))) throw unsupportedMediaType();
        streams = validatePush(parseJsonBody(await c.req.text()));
      } finally {
        // Read and checked while the admission ran; nothing is stored before it said yes.
        await c.get('admitted');
      }
      const results = await options.store().append(c.get('space'), streams);
      const body: PushResponse = { results };
      return c.json(body, 200);
    },
  );
}
