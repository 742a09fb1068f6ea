import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { TallyError } from '../core/errors.ts';
import { spaceIdSchema } from '../core/protocol.ts';
import type { AccessStore } from './access-store.ts';
import type { AppEnv } from './app-env.ts';
import { clientIp } from './client-ip.ts';
import type { RateLimits } from './options.ts';

/**
 * Device tokens: `t1.<space>.<base64url(id ‖ mac)>`, where `id` is 16 random bytes naming one
 * device and mac = HMAC-SHA256(secret, space, id) truncated to 128 bits (still 2^128 guesses to
 * forge; RFC 2104 §5 allows truncation to half the hash). The 32 bytes make 43 characters, the
 * same shape as the first, per-space tokens, so clients that check the shape need no change.
 *
 * Naming the space inside the token lets the server tell a forged token (401) from a genuine
 * token of another space (403) without storing anything; the id lets one device leave (its id is
 * put in the space's revoked set) without locking out the others.
 */
const tokenPattern = /^t1\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;
/** The scheme's name is case-insensitive (RFC 9110 §11.1). */
const bearerPattern = /^Bearer +([!-~]{1,200})$/i;
const idBytes = 16;
const macBytes = 16;

/** At least 256 bits of secret, as the HMAC key is also what keeps tokens unforgeable. */
export const minSecretLength = 32;

/** Who a genuine token speaks for. `device` is the token's id (base64url), never secret. */
export type TokenHolder = { readonly space: string; readonly device: string };

export interface SpaceTokens {
  /** A fresh token for a new device of `space`. */
  issue(space: string): string;
  /** The space and device a token is genuinely for, or undefined for anything malformed or forged. */
  verify(token: string): TokenHolder | undefined;
  /**
   * A pairing invite: `p1.<space>.<base64url(expiry ‖ nonce ‖ mac)>`. It can do one thing only,
   * have a device token of that space made for the device that opens the link, once, and only
   * until it expires; so a pairing link never carries a device's own credential. The nonce names
   * the invite in the space's pending invites (access-store.ts), which is what makes it single-use.
   */
  invite(space: string, expiresAt: number): { invite: string; id: string };
  /** The space, expiry and id of a genuine invite, or undefined for anything malformed or forged. */
  verifyInvite(token: string): Invite | undefined;
}

export type Invite = { readonly space: string; readonly expiresAt: number; readonly id: string };

const invitePattern = /^p1\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{40})$/;
const expiryBytes = 6;
const nonceBytes = 8;

export function createSpaceTokens(secret: string): SpaceTokens {
  if (secret.length < minSecretLength)
    throw new TypeError(`The server secret must be at least ${minSecretLength} characters.`);
  // Domain-separated, so the same secret could later sign other kinds of tokens safely.
  const mac = (space: string, id: Buffer) =>
    createHmac('sha256', secret)
      .update(`tally/device-token/v1\n${space}\n`)
      .update(id)
      .digest()
      .subarray(0, macBytes);
  const inviteMac = (space: string, expiry: Buffer) =>
    createHmac('sha256', secret)
      .update(`tally/invite/v1\n${space}\n`)
      .update(expiry)
      .digest()
      .subarray(0, macBytes);
  return {
    invite(space, expiresAt) {
      const head = Buffer.alloc(expiryBytes + nonceBytes);
      head.writeUIntBE(Math.ceil(expiresAt / 1000), 0, expiryBytes);
      randomBytes(nonceBytes).copy(head, expiryBytes);
      const token = Buffer.concat([head, inviteMac(space, head)]).toString('base64url');
      return {
        invite: `p1.${space}.${token}`,
        id: head.subarray(expiryBytes).toString('base64url'),
      };
    },
    verifyInvite(token) {
      const match = invitePattern.exec(token);
      if (!match) return undefined;
      const [, space = '', given = ''] = match;
      const raw = Buffer.from(given, 'base64url');
      if (raw.length !== expiryBytes + nonceBytes + macBytes) return undefined;
      const head = raw.subarray(0, expiryBytes + nonceBytes);
      if (!timingSafeEqual(raw.subarray(head.length), inviteMac(space, head))) return undefined;
      return {
        space,
        expiresAt: head.readUIntBE(0, expiryBytes) * 1000,
        id: head.subarray(expiryBytes).toString('base64url'),
      };
    },
    issue(space) {
      const id = randomBytes(idBytes);
      return `t1.${space}.${Buffer.concat([id, mac(space, id)]).toString('base64url')}`;
    },
    verify(token) {
      const match = tokenPattern.exec(token);
      if (!match) return undefined;
      const [, space = '', given = ''] = match;
      const raw = Buffer.from(given, 'base64url');
      if (raw.length !== idBytes + macBytes) return undefined;
      const id = raw.subarray(0, idBytes);
      // Constant-time, so the comparison leaks nothing about how much of a forged mac was right.
      if (!timingSafeEqual(raw.subarray(idBytes), mac(space, id))) return undefined;
      return { space, device: id.toString('base64url') };
    },
  };
}

export type SpaceGate = {
  readonly tokens: SpaceTokens;
  /** Undefined when the server runs without a database: every guarded request is then a 503. */
  readonly access: () => AccessStore;
  readonly rateLimit: RateLimits | false;
};

/**
 * Guards `/api/spaces/:space/*`: a genuine token of this space, not revoked, within the space's
 * request rate. A refused request counts against its client's address instead, so guessing
 * tokens is limited too. EventSource cannot set headers, so the live endpoint alone may pass its
 * token as `?token=` (`allowQueryToken`).
 */
export function requireSpaceToken(
  gate: SpaceGate,
  options: {
    allowQueryToken?: boolean;
    /**
     * Admit a pairing invite of this space instead of a device token: only where a joining
     * device is served. A device token is refused there, so no device can mint another's.
     */
    invite?: boolean;
    /**
     * The admission (revoked? over the space's limit? one Redis round trip) runs while the route
     * reads and checks its body, instead of before: the route must `await c.var.admitted` before
     * it stores anything, and whatever it answers, a refused admission answers instead. For the
     * push, on the way of every command to the other devices.
     */
    admitAlongside?: boolean;
  } = {},
): MiddlewareHandler<AppEnv> {
  const { rateLimit } = gate;
  const refuse = async (ip: string, error: TallyError): Promise<never> => {
    if (rateLimit)
      await gate.access().count('refused', ip, rateLimit.refusedPerIpPerMinute, rateLimit);
    throw error;
  };

  return async function requireSpaceToken(c, next) {
    const space = c.req.param('space') ?? '';
    const ip = clientIp(c);
    if (!spaceIdSchema.safeParse(space).success)
      return refuse(ip, new TallyError('invalid', 'That is not a valid space id.'));
    const header = c.req.header('Authorization');
    let token: string | undefined;
    if (header !== undefined) token = bearerPattern.exec(header)?.[1];
    else if (options.allowQueryToken) token = c.req.query('token');
    if (token === undefined)
      return refuse(
        ip,
        new TallyError('unauthorized', 'This request needs a bearer token for its space.'),
      );
    if (options.invite && token.startsWith('p1.')) {
      const invite = gate.tokens.verifyInvite(token);
      if (invite === undefined)
        return refuse(ip, new TallyError('unauthorized', 'That pairing link is not valid here.'));
      if (invite.space !== space)
        return refuse(ip, new TallyError('forbidden', 'That pairing link is for another space.'));
      if (invite.expiresAt <= Date.now())
        return refuse(
          ip,
          new TallyError(
            'unauthorized',
            'That pairing link has expired. Make a new one on a device in the space.',
          ),
        );
      // Counted against the space like any request while it is pending; a link used, cancelled
      // or withdrawn counts against its client's address instead, as a forged one does: an old
      // link replayed cannot use up the requests of the space's devices.
      const admission = await gate
        .access()
        .admitInvite(space, invite.id, rateLimit ? rateLimit : undefined);
      if (admission === 'gone')
        return refuse(
          ip,
          new TallyError(
            'unauthorized',
            'That pairing link was already used, cancelled or has expired. Make a new one with “Pair a device” on a device in the space.',
          ),
        );
      c.set('space', space);
      c.set('device', 'invite');
      c.set('invite', invite);
      return next();
    }
    if (token.startsWith('p1.'))
      return refuse(
        ip,
        new TallyError('unauthorized', 'A pairing link only joins a space; it cannot do this.'),
      );
    const holder = gate.tokens.verify(token);
    if (holder === undefined)
      return refuse(ip, new TallyError('unauthorized', 'That token is not valid on this server.'));
    if (holder.space !== space)
      return refuse(ip, new TallyError('forbidden', 'That token belongs to another space.'));
    // One round trip checks the revoked set and counts the request against the space.
    const admitted = (async () => {
      const admission = await gate.access().admit(holder, rateLimit ? rateLimit : undefined);
      if (admission === 'revoked')
        return refuse(
          ip,
          new TallyError(
            'unauthorized',
            'This device left the space or was removed from it. Join again with a new pairing link from a device in the space.',
          ),
        );
    })();
    if (options.admitAlongside) {
      // Awaited after the route in any case; a refusal is never an unhandled rejection meanwhile.
      admitted.catch(() => undefined);
      c.set('admitted', admitted);
    } else await admitted;
    // A genuine device token where only an invite will do: no device mints another's token.
    if (options.invite)
      return refuse(
        ip,
        new TallyError(
          'forbidden',
          'Only a pairing link adds a device: make one with “Pair a device” on a device in the space.',
        ),
      );
    c.set('space', space);
    c.set('device', holder.device);
    await next();
    // Refused beside the route: that is the answer, whatever the route said (it stored nothing).
    await admitted;
    // Only a request that succeeded counts as the device being seen: a refused one stores nothing.
    if (c.res.status < 400)
      await gate
        .access()
        .seen(holder)
        .catch(() => undefined);
  };
}
