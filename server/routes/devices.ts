import { Hono } from 'hono';
import type { DeviceTokenResponse, InviteResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';

/**
 * `POST /api/spaces/:space/devices` → 201 `{ token }`: a token of its own for a device joining
 * the space (through a pairing link), so it never keeps the inviter's token.
 *
 * `POST /api/spaces/:space/invites` → 201 `{ invite, expiresAt }`: a pairing invite, valid for a
 * day, that can only have a device token made (the link a device shows).
 *
 * `DELETE /api/spaces/:space/devices/self` → 204: the calling device leaves; its token is refused
 * from now on (on every instance, since the revoked set is in Redis), the other devices' are not.
 */
/** How long a pairing link works: long enough to reach the other device, short if it leaks. */
export const inviteTtlMs = 24 * 60 * 60 * 1000;

export function devicesRoute(gate: SpaceGate) {
  return new Hono<AppEnv>()
    .post('/api/spaces/:space/invites', requireSpaceToken(gate), (c) => {
      // Only a device of the space may invite; an invite cannot make another.
      const expiresAt = Date.now() + inviteTtlMs;
      const body: InviteResponse = {
        invite: gate.tokens.invite(c.get('space'), expiresAt),
        expiresAt,
      };
      return c.json(body, 201);
    })
    .post('/api/spaces/:space/devices', requireSpaceToken(gate, { allowInvite: true }), (c) => {
      // Issuing is stateless: the token is signed, nothing is stored until the device leaves.
      const body: DeviceTokenResponse = { token: gate.tokens.issue(c.get('space')) };
      return c.json(body, 201);
    })
    .delete('/api/spaces/:space/devices/self', requireSpaceToken(gate), async (c) => {
      await gate.access().revoke({ space: c.get('space'), device: c.get('device') });
      return c.body(null, 204);
    });
}
