import type { Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import { deviceNameProblem, normalDeviceName, type DeviceInfo } from '../core/protocol.ts';
import {
  acquireLeaseScript,
  addInviteScript,
  admitInviteScript,
  admitScript,
  cancelInviteScript,
  consumeInviteScript,
  countScript,
  removeDeviceScript,
  renameDeviceScript,
  seenScript,
  renewLeaseScript,
} from './access-scripts.ts';
import type { TokenHolder } from './auth.ts';
import { TooManyRequests } from './errors.ts';
import { unavailable } from './errors.ts';

/** Keys of access control, beside the space's data under the same hash tag. */
export const accessKeys = {
  revoked: (space: string) => `tally:{${space}}:revoked`,
  rate: (space: string) => `tally:{${space}}:rate`,
  live: (space: string) => `tally:{${space}}:live`,
  /** The space's devices: id → `{ name, joinedAt }` (JSON). */
  devices: (space: string) => `tally:{${space}}:devices`,
  /** id → when the device last made a request (ms). */
  seen: (space: string) => `tally:{${space}}:seen`,
  /** Pairing invites not used yet, scored by their expiry. */
  invites: (space: string) => `tally:{${space}}:invites`,
  /** invite id → the device that asked for it. */
  inviteMakers: (space: string) => `tally:{${space}}:invite-makers`,
  /** Requests made with one pending invite in the current window. */
  inviteRate: (space: string, invite: string) => `tally:{${space}}:invite-rate:${invite}`,
  /** A client address is its own hash tag: its counters share nothing with any space. */
  address: (kind: AddressCount, ip: string) => `tally:{ip:${ip}}:${kind}`,
};

export type Window = { readonly windowMs: number };

/** What is counted per client address: spaces created, and requests refused for their token. */
export type AddressCount = 'create' | 'refused';

/**
 * Who may do what, kept in Redis so every instance agrees at once: revoked devices, request
 * counts per window, live connection leases. Every method answers 503 (`unavailable`) when Redis
 * cannot be reached. Failing open instead would mean a revoked device is let back in, and the
 * limits lifted, exactly when the database is struggling.
 */
export interface AccessStore {
  /**
   * Whether the device left its space; otherwise counts the request against the space when
   * `limit` is given, throwing TooManyRequests once over it.
   */
  admit(
    holder: TokenHolder,
    limit?: Window & { readonly perSpacePerMinute: number },
  ): Promise<'admitted' | 'revoked'>;
  /** The device leaves its space: its token is refused from now on, on every instance. */
  revoke(holder: TokenHolder): Promise<void>;
  /** Counts one request of a client address; throws TooManyRequests once over `max`. */
  count(kind: AddressCount, ip: string, max: number, window: Window): Promise<void>;
  /** Takes one of the space's live connections; throws TooManyRequests when all are taken. */
  acquireLease(space: string, lease: string, max: number, leaseMs: number): Promise<void>;
  /** Keeps a lease alive; 'revoked' when its device left meanwhile (the lease is then gone). */
  renewLease(holder: TokenHolder, lease: string, leaseMs: number): Promise<'renewed' | 'revoked'>;
  releaseLease(space: string, lease: string): Promise<void>;

  /** A request of the device succeeded: it was seen now (at most once a minute per instance). */
  seen(holder: TokenHolder): Promise<void>;
  /** Lists a device under its name (the device that created the space). */
  addDevice(space: string, device: string, name: string): Promise<void>;
  /**
   * Keeps a new invite of `maker` pending until it is used, cancelled or expires, or its maker
   * leaves; throws TooManyRequests when the space already has `maxPendingInvites` pending.
   */
  addInvite(space: string, invite: string, expiresAt: number, maker: string): Promise<void>;
  /**
   * Whether a genuine invite is still pending (its maker still in the space); if so, counts the
   * request against the invite itself (a few per window) when `limit` is given, throwing
   * TooManyRequests once over it. Never against the space.
   */
  admitInvite(
    space: string,
    invite: string,
    limit?: Window & { readonly perSpacePerMinute: number },
  ): Promise<'admitted' | 'gone'>;
  /**
   * Uses up a pending invite for a joining device; false when it was used, cancelled or expired,
   * or its maker has left the space.
   */
  consumeInvite(space: string, invite: string, device: string, name: string): Promise<boolean>;
  /** Withdraws a pending invite; false when it was not pending. */
  cancelInvite(space: string, invite: string): Promise<boolean>;
  devices(space: string): Promise<DeviceInfo[]>;
  /** False (nothing written) when the device left or was removed meanwhile. */
  renameDevice(space: string, device: string, name: string): Promise<boolean>;
  /** Removes a device: its token is refused from now on; false when it is not in the space. */
  removeDevice(space: string, device: string): Promise<boolean>;
}

type AccessCommands = {
  tallyAdmit(...args: (string | number)[]): Promise<unknown>;
  tallyConsumeInvite(...args: (string | number)[]): Promise<unknown>;
  tallyAdmitInvite(...args: (string | number)[]): Promise<unknown>;
  tallyCancelInvite(...args: (string | number)[]): Promise<unknown>;
  tallyRenameDevice(...args: (string | number)[]): Promise<unknown>;
  tallySeen(...args: (string | number)[]): Promise<unknown>;
  tallyAddInvite(...args: (string | number)[]): Promise<unknown>;
  tallyRemoveDevice(...args: (string | number)[]): Promise<unknown>;
  tallyCount(...args: (string | number)[]): Promise<unknown>;
  tallyAcquireLease(...args: (string | number)[]): Promise<unknown>;
  tallyRenewLease(...args: (string | number)[]): Promise<unknown>;
};

const call = async <T>(run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    throw unavailable(error);
  }
};

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1_000));

const windowReply = (reply: unknown): { count: number; left: number } => {
  if (Array.isArray(reply) && typeof reply[0] === 'number' && typeof reply[1] === 'number')
    return { count: reply[0], left: reply[1] };
  throw new TallyError('unavailable', 'The sync server got an unexpected answer from Redis.');
};

export function createAccessStore(redis: Redis): AccessStore {
  // EVALSHA with a fallback to EVAL, so the scripts survive a Redis restart (empty script cache).
  redis.defineCommand('tallyAdmit', { lua: admitScript, numberOfKeys: 2 });
  redis.defineCommand('tallySeen', { lua: seenScript, numberOfKeys: 3 });
  redis.defineCommand('tallyConsumeInvite', { lua: consumeInviteScript, numberOfKeys: 4 });
  redis.defineCommand('tallyAdmitInvite', { lua: admitInviteScript, numberOfKeys: 4 });
  redis.defineCommand('tallyAddInvite', { lua: addInviteScript, numberOfKeys: 2 });
  redis.defineCommand('tallyCancelInvite', { lua: cancelInviteScript, numberOfKeys: 2 });
  redis.defineCommand('tallyRemoveDevice', { lua: removeDeviceScript, numberOfKeys: 5 });
  redis.defineCommand('tallyRenameDevice', { lua: renameDeviceScript, numberOfKeys: 2 });
  redis.defineCommand('tallyCount', { lua: countScript, numberOfKeys: 1 });
  redis.defineCommand('tallyAcquireLease', { lua: acquireLeaseScript, numberOfKeys: 1 });
  redis.defineCommand('tallyRenewLease', { lua: renewLeaseScript, numberOfKeys: 2 });
  const scripts = redis as Redis & AccessCommands;
  const removeDevice = (space: string, device: string) =>
    scripts.tallyRemoveDevice(
      accessKeys.revoked(space),
      accessKeys.devices(space),
      accessKeys.seen(space),
      accessKeys.invites(space),
      accessKeys.inviteMakers(space),
      device,
    );
  /** When this instance last wrote each device's last-seen time. */
  const lastSeen = new Map<string, number>();

  return {
    async admit({ space, device }, limit) {
      const reply = windowReply(
        await call(() =>
          scripts.tallyAdmit(
            accessKeys.revoked(space),
            accessKeys.rate(space),
            device,
            limit?.perSpacePerMinute ?? 0,
            limit?.windowMs ?? 0,
          ),
        ),
      );
      if (reply.count === -1) return 'revoked';
      if (limit && reply.count > limit.perSpacePerMinute)
        throw new TooManyRequests(
          'This space is sending too many requests. Wait a moment, then try again.',
          seconds(reply.left),
        );
      return 'admitted';
    },

    async revoke({ space, device }) {
      await call(() => removeDevice(space, device));
      // A device that was never listed (an older token) is refused all the same.
      await call(() => redis.sadd(accessKeys.revoked(space), device));
    },

    async seen({ space, device }) {
      const key = `${space}\u0000${device}`;
      const last = lastSeen.get(key);
      if (last !== undefined && Date.now() - last < seenEveryMs) return;
      lastSeen.set(key, Date.now());
      // Bounded: an instance remembers at most this many devices' last writes.
      if (lastSeen.size > 100_000) lastSeen.clear();
      await call(() =>
        scripts.tallySeen(
          accessKeys.seen(space),
          accessKeys.devices(space),
          accessKeys.revoked(space),
          device,
        ),
      );
    },

    async addDevice(space, device, name) {
      await call(() =>
        redis.hset(accessKeys.devices(space), device, deviceRecord(name, Date.now())),
      );
    },

    async addInvite(space, invite, expiresAt, maker) {
      const kept = await call(() =>
        scripts.tallyAddInvite(
          accessKeys.invites(space),
          accessKeys.inviteMakers(space),
          invite,
          expiresAt,
          maker,
          maxPendingInvites,
        ),
      );
      if (kept !== 1)
        throw new TooManyRequests(
          `This space already has ${maxPendingInvites} pairing links waiting to be used. Cancel one, or wait for one to expire.`,
          // Until the first of them expires.
          seconds(typeof kept === 'number' ? -kept : 60_000),
        );
    },

    async admitInvite(space, invite, limit) {
      const reply = windowReply(
        await call(() =>
          scripts.tallyAdmitInvite(
            accessKeys.invites(space),
            accessKeys.inviteMakers(space),
            accessKeys.revoked(space),
            accessKeys.inviteRate(space, invite),
            invite,
            limit ? invitePerWindow : 0,
            limit?.windowMs ?? 0,
          ),
        ),
      );
      if (reply.count === -1) return 'gone';
      if (limit && reply.count > invitePerWindow)
        throw new TooManyRequests(
          'This pairing link was tried too many times. Wait a moment, or make a new one.',
          seconds(reply.left),
        );
      return 'admitted';
    },

    async consumeInvite(space, invite, device, name) {
      const used = await call(() =>
        scripts.tallyConsumeInvite(
          accessKeys.invites(space),
          accessKeys.inviteMakers(space),
          accessKeys.devices(space),
          accessKeys.revoked(space),
          invite,
          device,
          deviceRecord(name, Date.now()),
        ),
      );
      return used === 1;
    },

    async cancelInvite(space, invite) {
      const cancelled = await call(() =>
        scripts.tallyCancelInvite(
          accessKeys.invites(space),
          accessKeys.inviteMakers(space),
          invite,
        ),
      );
      return cancelled === 1;
    },

    async devices(space) {
      const [devices, seen] = await call(() =>
        Promise.all([
          redis.hgetall(accessKeys.devices(space)),
          redis.hgetall(accessKeys.seen(space)),
        ]),
      );
      return Object.entries(devices)
        .map(([id, raw]) => {
          const record = readDeviceRecord(raw);
          return {
            id,
            ...record,
            lastSeenAt: Number(seen[id] ?? record.joinedAt) || record.joinedAt,
          };
        })
        .sort((a, b) => a.joinedAt - b.joinedAt || a.id.localeCompare(b.id));
    },

    async renameDevice(space, device, name) {
      const renamed = await call(() =>
        scripts.tallyRenameDevice(
          accessKeys.revoked(space),
          accessKeys.devices(space),
          device,
          name,
        ),
      );
      return renamed === 1;
    },

    async removeDevice(space, device) {
      return (await call(() => removeDevice(space, device))) === 1;
    },

    async count(kind, ip, max, { windowMs }) {
      const { count, left } = windowReply(
        await call(() => scripts.tallyCount(accessKeys.address(kind, ip), windowMs)),
      );
      if (count > max)
        throw new TooManyRequests(
          'Too many requests from your address. Wait a moment, then try again.',
          seconds(left),
        );
    },

    async acquireLease(space, lease, max, leaseMs) {
      const taken = await call(() =>
        scripts.tallyAcquireLease(accessKeys.live(space), lease, max, leaseMs),
      );
      if (taken !== 1)
        throw new TooManyRequests(
          `This space already has ${max} live connections. Close a tab or device, then try again.`,
          // A lease is renewed every third of its time; one may end any moment.
          seconds(leaseMs / 3),
        );
    },

    async renewLease({ space, device }, lease, leaseMs) {
      const renewed = await call(() =>
        scripts.tallyRenewLease(
          accessKeys.live(space),
          accessKeys.revoked(space),
          lease,
          device,
          leaseMs,
        ),
      );
      return renewed === 1 ? 'renewed' : 'revoked';
    },

    async releaseLease(space, lease) {
      await call(() => redis.zrem(accessKeys.live(space), lease));
    },
  };
}

/**
 * Pairing links a space keeps waiting at once: a person pairs a device or two at a time; a device
 * token that makes invites by the thousand (a stolen phone, before it is removed) stops here.
 */
export const maxPendingInvites = 20;

/**
 * Requests one pending pairing link may make in a rate window (a join takes one; a few more for
 * a person retrying a typo): counted on the link itself, never on the space, so a link seen by
 * others (a QR code on a screen) cannot lock the space's devices out.
 */
const invitePerWindow = 10;

/** "Last seen" is for people: a minute is fine grained enough, and spares a write per request. */
const seenEveryMs = 60_000;

const deviceRecord = (name: string, joinedAt: number) => JSON.stringify({ name, joinedAt });

/** A device record read back from Redis: storage is an edge, so a damaged one reads plainly. */
function readDeviceRecord(raw: string): { name: string; joinedAt: number } {
  try {
    const { name, joinedAt } = JSON.parse(raw) as { name?: unknown; joinedAt?: unknown };
    return {
      // Kept before today's rule for names, perhaps: shown as that rule keeps a name.
      name:
        typeof name === 'string' && deviceNameProblem(name) === undefined
          ? normalDeviceName(name)
          : 'A device',
      joinedAt:
        typeof joinedAt === 'number' && Number.isFinite(joinedAt)
          ? Math.max(0, Math.floor(joinedAt))
          : 0,
    };
  } catch {
    return { name: 'A device', joinedAt: 0 };
  }
}
