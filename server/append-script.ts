/**
 * The append, as one Lua script so that the version check, the stream list and the space feed
 * change in one atomic step (DESIGN.md §4). One call serves a whole push: every key is in the
 * space's hash slot, so this also runs unchanged on Redis Cluster.
 *
 * KEYS[1]      the space's feed (a Redis Stream)
 * KEYS[2..n]   one list per pushed stream, in push order
 * ARGV[1]      the most events the space may hold
 * ARGV[2..]    per stream: expectedVersion, expectedId ('' for none), count, then count × (event
 *              id, event JSON)
 *
 * Replies, per stream: {1, version} accepted, or {0, version, json…} a conflict carrying the
 * stream's events after expectedVersion, or {2, version} when the event stored at expectedVersion
 * is not the one the device names (the histories diverged; nothing is written). A push that would take the space past its quota is
 * refused whole, before anything is written: {{-1, events in the space}}.
 *
 * The retry rule: events already stored at their versions with the same ids are a push whose
 * answer was lost. They are accepted without being appended again; when only a prefix of them is
 * there (the device added events before retrying) the rest is appended after it.
 */
export const appendScript = `
local feed = KEYS[1]
local quota = tonumber(ARGV[1])
local incoming = 0
local scan = 2
for k = 2, #KEYS do
  local count = tonumber(ARGV[scan + 2])
  incoming = incoming + count
  scan = scan + 3 + 2 * count
end
local held = redis.call('XLEN', feed)
if held + incoming > quota then
  return {{-1, held}}
end
local replies = {}
local at = 2
for k = 2, #KEYS do
  local list = KEYS[k]
  local expected = tonumber(ARGV[at])
  local expectedId = ARGV[at + 1]
  local count = tonumber(ARGV[at + 2])
  local first = at + 3
  at = first + 2 * count

  local length = redis.call('LLEN', list)
  local diverged = false
  if expected > 0 and expectedId ~= '' and length >= expected then
    local there = redis.call('LINDEX', list, expected - 1)
    diverged = cjson.decode(there)['id'] ~= expectedId
  end
  local present = 0
  local matches = length >= expected
  if matches and length > expected then
    local stored = redis.call('LRANGE', list, expected, expected + count - 1)
    for i = 1, #stored do
      if cjson.decode(stored[i])['id'] ~= ARGV[first + 2 * (i - 1)] then
        matches = false
        break
      end
      present = i
    end
  end

  if diverged then
    replies[#replies + 1] = {2, length}
  elseif matches then
    for i = present + 1, count do
      local event = ARGV[first + 2 * (i - 1) + 1]
      redis.call('RPUSH', list, event)
      redis.call('XADD', feed, '*', 'e', event)
    end
    replies[#replies + 1] = {1, expected + count}
  else
    local missing = redis.call('LRANGE', list, expected, -1)
    table.insert(missing, 1, length)
    table.insert(missing, 1, 0)
    replies[#replies + 1] = missing
  end
end
return replies
`;
