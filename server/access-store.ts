import type { Redis } from 'ioredis';
import { TallyError } from '../core/errors.ts';
import {
  acquireLeaseScript,
  admitScript,
  countScript,
  renewLeaseScript,
} from './access-scripts.ts';
import type { TokenHolder } from './auth.ts';
import { TooManyRequests } from './errors.ts';
import { unavailable } from './redis-store.ts';

/** Keys of access control, beside the space's data under the same hash tag. */
export const accessKeys = {
  revoked: (space: string) => `tally:{${space}}:revoked`,
  rate: (space: string) => `tally:{${space}}:rate`,
  live: (space: string) => `tally:{${space}}:live`,
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
}

type AccessCommands = {
  tallyAdmit(...args: (string | number)[]): Promise<unknown>;
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
  redis.defineCommand('tallyCount', { lua: countScript, numberOfKeys: 1 });
  redis.defineCommand('tallyAcquireLease', { lua: acquireLeaseScript, numberOfKeys: 1 });
  redis.defineCommand('tallyRenewLease', { lua: renewLeaseScript, numberOfKeys: 2 });
  const scripts = redis as Redis & AccessCommands;

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
      await call(() => redis.sadd(accessKeys.revoked(space), device));
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
