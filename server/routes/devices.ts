import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { TallyError } from '../../core/errors.ts';
import {
  deviceNameSchema,
  type DeviceTokenResponse,
  type DevicesResponse,
  type InviteResponse,
} from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';
import { payloadTooLarge } from '../errors.ts';
import { parseJsonBody } from '../safe-json.ts';

/**
 * Pairing and the space's devices (docs/architecture.md, "Devices"):
 *
 * - `POST …/invites` (device token) → 201 `{ invite, expiresAt }`: a single-use pairing invite,
 *   valid for `inviteTtlMs` (15 minutes by default) while the device that asked for it stays in
 *   the space; 429 when the space has `maxPendingInvites` waiting.
 * - `DELETE …/invites/:invite` (device token) → 204; 404 when it is not pending (used, expired,
 *   cancelled).
 * - `POST …/devices` (an invite, never a device token) body `{ name? }` → 201 `{ token }`: the
 *   joining device's own token; the invite is used up atomically (401 for a second device).
 * - `GET …/devices` → 200 `{ devices: [{ id, name, joinedAt, lastSeenAt }], self }`.
 * - `PATCH …/devices/self` body `{ name }` → 204.
 * - `DELETE …/devices/self` → 204: this device leaves; `DELETE …/devices/:device` → 204: another
 *   device is removed (404 when it is not in the space). Either way that token is refused from
 *   then on, on every instance, and its open live feeds end.
 */
export const defaultInviteTtlMs = 15 * 60 * 1000;

const nameBody = z.strictObject({ name: deviceNameSchema });
const joinBody = z.strictObject({ name: z.optional(deviceNameSchema) });
const deviceIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'Not a device id.');

/** Small JSON bodies (a name): bounded, parsed at the edge, or absent. */
async function readBody<T>(
  c: Context<AppEnv>,
  schema: z.ZodType<T>,
  optional: boolean,
): Promise<T> {
  const text = await c.req.text();
  if (optional && text.trim() === '') return schema.parse({});
  const parsed = schema.safeParse(parseJsonBody(text));
  if (!parsed.success)
    throw new TallyError(
      'invalid',
      `The body is malformed: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  return parsed.data;
}

const small = bodyLimit({
  maxSize: 4_096,
  onError: () => {
    throw payloadTooLarge(4_096);
  },
});

export function devicesRoute(
  gate: SpaceGate,
  options: {
    inviteTtlMs?: number;
    /** Told when a device is removed or leaves, so this instance ends its live feeds at once. */
    onRevoked?: (space: string, device: string) => void;
  } = {},
) {
  const ttl = options.inviteTtlMs ?? defaultInviteTtlMs;
  const revoked = (space: string, device: string) => options.onRevoked?.(space, device);
  return new Hono<AppEnv>()
    .post('/api/spaces/:space/invites', requireSpaceToken(gate), async (c) => {
      const space = c.get('space');
      const expiresAt = Date.now() + ttl;
      const { invite, id } = gate.tokens.invite(space, expiresAt);
      // Tied to the device that asked: removed, it takes its pending invites with it.
      await gate.access().addInvite(space, id, expiresAt, c.get('device'));
      const body: InviteResponse = { invite, expiresAt };
      return c.json(body, 201);
    })
    .delete('/api/spaces/:space/invites/:invite', requireSpaceToken(gate), async (c) => {
      const space = c.get('space');
      const invite = gate.tokens.verifyInvite(c.req.param('invite'));
      if (!invite || invite.space !== space)
        throw new TallyError('not-found', 'There is no such invite in this space.');
      if (!(await gate.access().cancelInvite(space, invite.id)))
        throw new TallyError('not-found', 'That invite was already used, cancelled or expired.');
      return c.body(null, 204);
    })
    .post(
      '/api/spaces/:space/devices',
      requireSpaceToken(gate, { invite: true }),
      small,
      async (c) => {
        const { name = 'A device' } = await readBody(c, joinBody, true);
        const space = c.get('space');
        const token = gate.tokens.issue(space);
        const device = gate.tokens.verify(token)!.device;
        if (!(await gate.access().consumeInvite(space, c.get('invite').id, device, name)))
          throw new TallyError(
            'unauthorized',
            'That pairing link was already used, cancelled or has expired. Make a new one with “Pair a device” on a device in the space.',
          );
        const body: DeviceTokenResponse = { token };
        return c.json(body, 201);
      },
    )
    .get('/api/spaces/:space/devices', requireSpaceToken(gate), async (c) => {
      const body: DevicesResponse = {
        devices: await gate.access().devices(c.get('space')),
        self: c.get('device'),
      };
      return c.json(body, 200);
    })
    .patch('/api/spaces/:space/devices/self', requireSpaceToken(gate), small, async (c) => {
      const { name } = await readBody(c, nameBody, false);
      // Removed between its admission and now: nothing written, the device is not listed again.
      if (!(await gate.access().renameDevice(c.get('space'), c.get('device'), name)))
        throw new TallyError(
          'unauthorized',
          'This device left the space or was removed from it. Join again with a new pairing link from a device in the space.',
        );
      return c.body(null, 204);
    })
    .delete('/api/spaces/:space/devices/self', requireSpaceToken(gate), async (c) => {
      const holder = { space: c.get('space'), device: c.get('device') };
      await gate.access().revoke(holder);
      revoked(holder.space, holder.device);
      return c.body(null, 204);
    })
    .delete('/api/spaces/:space/devices/:device', requireSpaceToken(gate), async (c) => {
      const space = c.get('space');
      const parsed = deviceIdSchema.safeParse(c.req.param('device'));
      if (!parsed.success) throw new TallyError('invalid', 'That is not a device id.');
      const device = parsed.data;
      if (!(await gate.access().removeDevice(space, device)))
        throw new TallyError('not-found', 'There is no such device in this space.');
      revoked(space, device);
      return c.body(null, 204);
    });
}
