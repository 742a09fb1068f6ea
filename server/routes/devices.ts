import { Hono } from 'hono';
import type { DeviceTokenResponse } from '../../core/protocol.ts';
import type { AppEnv } from '../app-env.ts';
import { requireSpaceToken, type SpaceGate } from '../auth.ts';

/**
 * `POST /api/spaces/:space/devices` → 201 `{ token }`: a token of its own for a device joining
 * the space (through a pairing link), so it never keeps the inviter's token.
 *
 * `DELETE /api/spaces/:space/devices/self` → 204: the calling device leaves; its token is refused
 * from now on (on every instance, since the revoked set is in Redis), the other devices' are not.
 */
export function devicesRoute(gate: SpaceGate) {
  return new Hono<AppEnv>()
    .post('/api/spaces/:space/devices', requireSpaceToken(gate), (c) => {
      // Issuing is stateless: the token is signed, nothing is stored until the device leaves.
      const body: DeviceTokenResponse = { token: gate.tokens.issue(c.get('space')) };
      return c.json(body, 201);
    })
    .delete('/api/spaces/:space/devices/self', requireSpaceToken(gate), async (c) => {
      await gate.access().revoke({ space: c.get('space'), device: c.get('device') });
      return c.body(null, 204);
    });
}
