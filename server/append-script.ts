/**
 * The append, as one Lua script so that the checks, the stream list, the space feed and the id
 * index change in one atomic step (docs/architecture.md, "Sync rules"). One call serves a whole push: every key is in
 * the space's hash slot, so this also runs unchanged on Redis Cluster.
 *
 * KEYS[1]      the space's feed (a Redis Stream)
 * KEYS[2]      the space's event ids (a hash: id → "stream version"), so an id names one event
 * KEYS[3]      the space's deleted streams (a hash: stream → its tombstone's JSON, delete-script.ts)
 * KEYS[4]      the space's streams with their snapshots (a hash: stream → snapshot JSON, or `0`
 *              until one is folded; snapshots.ts), and `~appended`: how many feed entries the
 *              scripts that keep this index have added. Equal to the feed's `entries-added`, the
 *              hash names every stream; a space written before the index existed, or by an
 *              instance of an older build during a rolling deploy, shows more in the feed
 * KEYS[5..n]   one list per pushed stream, in push order
 * ARGV[1]      the most events the space may hold
 * ARGV[2]      the most events all conflict answers of this push carry together (a page)
 * ARGV[3]      the key prefix of the space's stream lists (`tally:{space}:s:`)
 * ARGV[4]      the space's wake-up channel (`tally:{space}:wake`, in the space's slot)
 * ARGV[5..]    per stream: expectedVersion, expectedId ('' for none), count, then count × (event
 *              id, event JSON)
 *
 * Replies, per stream: {1, version} accepted (the stream's version after the push), or
 * {0, version, more, json…} a conflict carrying the next page of the stream's events after
 * expectedVersion (more = 1 when the page does not reach the stream's end), or {2, version} when
 * the history the device names is not the server's (nothing is written). A stream deleted forever
 * takes nothing again: it is answered {0, tombstone's version, 0, tombstone}, a conflict carrying
 * only the tombstone, on which the device drops the stream (a device that was offline when it was
 * deleted pushes nothing of it back). A push is refused whole,
 * before anything is written, when it would take the space past its quota: {{-1, events in the
 * space}}, or when an event it would append reuses an id stored elsewhere: {{-2, id}}.
 *
 * The retry rule: events already stored at their versions, byte for byte (the server serializes
 * an event one way only), are a push whose answer was lost. They are accepted without being
 * appended again; when only a prefix of them is there (the device added events before retrying)
 * the rest is appended after it. The same id with other content there is a split history
 * (diverged), never an accepted push. The quota counts only what would be appended.
 *
 * An id in the index whose event is no longer where the index says (Redis lost the last writes
 * of the stream, and a device gives them back) names nothing: it may be stored again. Checking
 * reads that stream's list, a key in the space's slot that the push need not name.
 *
 * When it appended anything, the script SPUBLISHes on the space's wake-up channel the entries
 * it added to the feed (`entries:<the feed's newest id before them>`, then a line `<feed id>
 * <event JSON>` each), or, past `maxCarriedBytes` of events, the feed id of its last entry: an
 * instance following the space live whose cursor is that newest id sends the entries on as they
 * are; any other reads its feed from its own cursor (live-feed.ts). Sharded pub/sub stays within
 * the slot's shard, so the wake-up costs what the number of instances listening costs, never a
 * broadcast to the whole Cluster. The same message follows the streams' replies, so the instance
 * that ran the push wakes its own followers without waiting for pub/sub's round trip.
 *
 * Work is bounded by the push, never by the stream: one LLEN, at most one LINDEX, one LRANGE of
 * at most `count` events per stream, and conflict pages of at most ARGV[2] events in all.
 */
/** What a wake-up carrying the appended entries starts with (then the feed id before them). */
export const carriedPrefix = 'entries:';
/** Events of one push up to this many bytes ride in its wake-up; a larger push's are read. */
export const maxCarriedBytes = 16_384;

export const appendScript = `
local feed = KEYS[1]
local ids = KEYS[2]
local deleted = KEYS[3]
local snaps = KEYS[4]
local quota = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local lists = ARGV[3]
local wake = ARGV[4]
local plans = {}
local incoming = 0
local pushed = {}
local at = 5
local last = nil
local added = 0
-- The feed's newest entry before this push's, and this push's entries while they are small
-- enough to carry in the wake-up (one line each: "<feed id> <event JSON>").
local prev = nil
local carried = {}
local carriedBytes = 0

-- Whether an id is stored as an event of the space, where the index says it is.
local function taken(id)
  local where = redis.call('HGET', ids, id)
  if not where then return false end
  local stream, version = string.match(where, '^(%S+) (%d+)$')
  if not stream then return true end
  local there = redis.call('LINDEX', lists .. stream, tonumber(version) - 1)
  return there ~= false and cjson.decode(there)['id'] == id
end

for k = 5, #KEYS do
  local plan = { list = KEYS[k], stream = string.sub(KEYS[k], #lists + 1), expected = tonumber(ARGV[at]), count = tonumber(ARGV[at + 2]) }
  local expectedId = ARGV[at + 1]
  plan.first = at + 3
  at = plan.first + 2 * plan.count
  plan.length = redis.call('LLEN', plan.list)
  plan.present = 0
  plan.tombstone = redis.call('HGET', deleted, plan.stream)
  if plan.tombstone then plan.kind = 'deleted' end

  if plan.kind == nil and plan.expected > 0 and expectedId ~= '' and plan.length >= plan.expected then
    local there = redis.call('LINDEX', plan.list, plan.expected - 1)
    if cjson.decode(there)['id'] ~= expectedId then plan.kind = 'diverged' end
  end
  if plan.kind == nil and plan.length < plan.expected then plan.kind = 'conflict' end
  if plan.kind == nil then
    plan.kind = 'accepted'
    if plan.length > plan.expected then
      local stored = redis.call('LRANGE', plan.list, plan.expected, plan.expected + plan.count - 1)
      for i = 1, #stored do
        local id = ARGV[plan.first + 2 * (i - 1)]
        if stored[i] == ARGV[plan.first + 2 * (i - 1) + 1] then
          plan.present = i
        else
          if cjson.decode(stored[i])['id'] == id then plan.kind = 'diverged' else plan.kind = 'conflict' end
          break
        end
      end
    end
  end
  if plan.kind == 'accepted' then
    for i = plan.present + 1, plan.count do
      local id = ARGV[plan.first + 2 * (i - 1)]
      if pushed[id] or taken(id) then return {{-2, id}} end
      pushed[id] = true
    end
    incoming = incoming + plan.count - plan.present
  end
  plans[#plans + 1] = plan
end

if incoming > 0 then
  local held = redis.call('XLEN', feed)
  if held + incoming > quota then return {{-1, held}} end
end

local replies = {}
for _, plan in ipairs(plans) do
  if plan.kind == 'deleted' then
    replies[#replies + 1] = {0, cjson.decode(plan.tombstone)['version'], 0, plan.tombstone}
  elseif plan.kind == 'diverged' then
    replies[#replies + 1] = {2, plan.length}
  elseif plan.kind == 'accepted' then
    if plan.length == 0 and plan.count > plan.present then redis.call('HSETNX', snaps, plan.stream, '0') end
    for i = plan.present + 1, plan.count do
      local event = ARGV[plan.first + 2 * (i - 1) + 1]
      redis.call('RPUSH', plan.list, event)
      if prev == nil then
        local top = redis.call('XREVRANGE', feed, '+', '-', 'COUNT', 1)
        if top[1] then prev = top[1][1] else prev = '0-0' end
      end
      last = redis.call('XADD', feed, '*', 'e', event)
      if carried then
        carriedBytes = carriedBytes + #event
        if carriedBytes > ${maxCarriedBytes} then carried = nil else carried[#carried + 1] = last .. ' ' .. event end
      end
      added = added + 1
      redis.call('HSET', ids, ARGV[plan.first + 2 * (i - 1)], plan.stream .. ' ' .. (plan.expected + i))
    end
    replies[#replies + 1] = {1, redis.call('LLEN', plan.list)}
  else
    local take = math.max(0, math.min(plan.length - plan.expected, budget))
    budget = budget - take
    local page = {}
    if take > 0 then page = redis.call('LRANGE', plan.list, plan.expected, plan.expected + take - 1) end
    local more = 0
    if plan.expected + take < plan.length then more = 1 end
    table.insert(page, 1, more)
    table.insert(page, 1, plan.length)
    table.insert(page, 1, 0)
    replies[#replies + 1] = page
  end
end
if last then
  redis.call('HINCRBY', snaps, '~appended', added)
  local message = last
  if carried then
    message = '${carriedPrefix}' .. prev .. '\\n' .. table.concat(carried, '\\n')
  end
  redis.call('SPUBLISH', wake, message)
  -- After the streams' replies: the instance that ran it wakes its own followers at once.
  replies[#replies + 1] = message
end
return replies
`;
