/**
 * Deleting a stream forever (`DELETE /api/spaces/:space/streams/:stream`), as one Lua script so
 * that the check and the tombstone are one atomic step. Every key is in the space's hash slot, so
 * it runs unchanged on Redis Cluster.
 *
 * KEYS[1]  the space's feed (a Redis Stream)
 * KEYS[2]  the space's deleted streams (a hash: stream → its tombstone's JSON)
 * KEYS[3]  the stream's list
 * KEYS[4]  the space's streams with their snapshots, and its count of feed entries (append-script.ts)
 * ARGV[1]  the stream's name
 * ARGV[2]  the length the route checked the stream at (its model said it may be deleted)
 * ARGV[3]  the id of the stream's last event then
 * ARGV[4]  the tombstone's JSON (version = that length + 1)
 * ARGV[5]  the space's wake-up channel
 *
 * Replies {1, feed id of the tombstone} when deleted; {2, its tombstone's JSON} when it already was
 * (a retried DELETE); {0, length} when the stream changed since the route read it (another device
 * restored it meanwhile): nothing is written.
 *
 * The stream's events already in the feed are removed afterwards, page by page (redis-store.ts):
 * once the tombstone is set, no push reaches the stream again (append-script.ts), so the sweep
 * races nothing, and a device catching up meanwhile drops the stream at the tombstone anyway.
 */
export const deleteScript = `
local feed = KEYS[1]
local deleted = KEYS[2]
local list = KEYS[3]
local stream = ARGV[1]
local tombstone = redis.call('HGET', deleted, stream)
if tombstone then return {2, tombstone} end
local length = redis.call('LLEN', list)
if length ~= tonumber(ARGV[2]) or length == 0 then return {0, length} end
if cjson.decode(redis.call('LINDEX', list, -1))['id'] ~= ARGV[3] then return {0, length} end
redis.call('DEL', list)
redis.call('HDEL', KEYS[4], stream)
redis.call('HSET', deleted, stream, ARGV[4])
local id = redis.call('XADD', feed, '*', 'e', ARGV[4])
redis.call('HINCRBY', KEYS[4], '~appended', 1)
redis.call('SPUBLISH', ARGV[5], id)
return {1, id}
`;
