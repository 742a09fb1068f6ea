/**
 * The Lua scripts of access control (auth.ts, routes/live.ts). Each touches the keys of one space
 * (or one client address) only, all under one hash tag, so they run unchanged on Redis Cluster.
 * Times come from the Redis server's clock (TIME), so instances with skewed clocks agree.
 */

/**
 * One fixed window: the first request of a window starts it and sets its expiry; each request
 * adds one. Replies {count, ms left in the window}.
 */
const countWindow = (key: string, windowMs: string) => `
  local count = redis.call('INCR', ${key})
  local left = redis.call('PTTL', ${key})
  if left < 0 then
    redis.call('PEXPIRE', ${key}, ${windowMs})
    left = tonumber(${windowMs})
  end
  return {count, left}
`;

const now = `
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * KEYS[1] revoked device ids, KEYS[2] the space's request counter
 * ARGV[1] the device id, ARGV[2] requests per window (0: not counted), ARGV[3] window ms
 * Replies {-1, 0} for a revoked device, else {count, ms left}. A revoked device is not counted
 * against the space: the caller counts it against its address.
 */
export const admitScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {-1, 0} end
if tonumber(ARGV[2]) == 0 then return {0, 0} end
${countWindow('KEYS[2]', 'ARGV[3]')}
`;

/**
 * A device made a request that succeeded: when it was last seen. A device whose token predates
 * the device list joins it under a plain name. KEYS[1] last seen, KEYS[2] devices,
 * KEYS[3] revoked ids; ARGV[1] the device id.
 */
export const seenScript = `
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
${now}
redis.call('HSET', KEYS[1], ARGV[1], now)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({name = 'A device', joinedAt = now}))
end
return 1
`;

/**
 * Pairing invites pending in a space: a sorted set of invite ids scored by their expiry, and a
 * hash of each one's maker (the device that asked for it): an invite works only while its maker
 * is in the space (a device removed takes its invites with it, so a stolen phone cannot pair
 * itself back in).
 *
 * KEYS[1] pending invites, KEYS[2] their makers, KEYS[3] revoked ids, KEYS[4] this invite's own
 * request counter (never the space's: whoever saw a pairing link must not be able to use up
 * the requests of the space's devices, even while the link is pending); ARGV[1] invite id,
 * ARGV[2] requests per window (0: not counted), ARGV[3] window ms. Replies {-1, 0} when the
 * invite is not pending (used, cancelled, expired, or its maker is gone: the caller counts it
 * against its address); else {count, ms left}.
 */
export const admitInviteScript = `
${now}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) <= now then return {-1, 0} end
local maker = redis.call('HGET', KEYS[2], ARGV[1])
if maker and redis.call('SISMEMBER', KEYS[3], maker) == 1 then return {-1, 0} end
if tonumber(ARGV[2]) == 0 then return {0, 0} end
${countWindow('KEYS[4]', 'ARGV[3]')}
`;

/**
 * KEYS[1] pending invites, KEYS[2] their makers, KEYS[3] the space's devices, KEYS[4] revoked
 * ids; ARGV[1] invite id, ARGV[2] the joining device's id, ARGV[3] its record (JSON).
 * Replies 1 when the invite was pending and is now used up (the device is listed), else 0: a
 * second device with the same link is refused, whichever instance it reaches, and so is a link
 * whose maker left or was removed.
 */
export const consumeInviteScript = `
${now}
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
local maker = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if not expires or tonumber(expires) <= now then return 0 end
if maker and redis.call('SISMEMBER', KEYS[4], maker) == 1 then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return 1
`;

/**
 * KEYS[1] pending invites, KEYS[2] their makers; ARGV[1] invite id, ARGV[2] its expiry (ms),
 * ARGV[3] its maker's device id, ARGV[4] the most a space keeps pending. Drops expired ones.
 * Replies 1 when kept; when the space already has the most pending, minus the ms until the first
 * of them expires (0 or less).
 */
export const addInviteScript = `
${now}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -(tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) - now)
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[1], last)
redis.call('PEXPIREAT', KEYS[2], last)
return 1
`;

/** KEYS[1] pending invites, KEYS[2] their makers; ARGV[1] invite id. Replies 1 when it was pending. */
export const cancelInviteScript = `
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
`;

/**
 * KEYS[1] revoked ids, KEYS[2] devices, KEYS[3] last seen, KEYS[4] pending invites, KEYS[5] their
 * makers; ARGV[1] the device id. The device's pending invites go with it, listed or not.
 * Replies 1 when the device was in the space and is now removed, 0 when it was not there.
 */
export const removeDeviceScript = `
local makers = redis.call('HGETALL', KEYS[5])
for i = 1, #makers, 2 do
  if makers[i + 1] == ARGV[1] then
    redis.call('ZREM', KEYS[4], makers[i])
    redis.call('HDEL', KEYS[5], makers[i])
  end
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`;

/**
 * KEYS[1] revoked ids, KEYS[2] devices; ARGV[1] the device id, ARGV[2] its new name.
 * A device whose token predates the device list joins it now. Replies 0 (nothing written) for a
 * device that left or was removed meanwhile, else 1: a rename racing a removal never lists the
 * removed device again.
 */
export const renameDeviceScript = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
${now}
local joined = now
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if raw then
  local ok, record = pcall(cjson.decode, raw)
  if ok and type(record) == 'table' and type(record.joinedAt) == 'number' then
    joined = record.joinedAt
  end
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({name = ARGV[2], joinedAt = joined}))
return 1
`;

/** KEYS[1] a counter; ARGV[1] window ms. Replies {count, ms left}. */
export const countScript = countWindow('KEYS[1]', 'ARGV[1]');

/**
 * Live connections of a space are leases in a sorted set scored by their expiry: a stream renews
 * its lease while it runs and removes it when it ends, and the lease of an instance that died
 * simply expires. So the limit holds across instances without trusting any of them to clean up.
 *
 * KEYS[1] the space's leases; ARGV[1] lease id, ARGV[2] most leases, ARGV[3] lease ms
 * Replies 1 when taken, 0 when the space already holds the most.
 */
export const acquireLeaseScript = `
${now}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS[1] the space's leases, KEYS[2] revoked device ids
 * ARGV[1] lease id, ARGV[2] the device id, ARGV[3] lease ms
 * Replies 1 when renewed, 0 when the device left meanwhile (the lease is then dropped).
 */
export const renewLeaseScript = `
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
${now}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;
