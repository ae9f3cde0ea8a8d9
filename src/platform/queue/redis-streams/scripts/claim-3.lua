-- Hands out a group's redeliveries to one consumer: entries whose nak delay is over, and entries
-- whose visibility timeout expired (their consumer is slow, or died). Claiming increments an
-- entry's delivery counter, which is its attempt number. An entry claimed for more attempts than
-- allowed is moved to the dead-letter stream instead (XADD there, XACK here) in this same atomic
-- step, so it can be neither lost between the two nor dead-lettered twice.
--
-- KEYS[1]  the topic's stream
-- KEYS[2]  the group's delayed set (ZSET: entry id -> time in ms when a nak'ed entry is due)
-- KEYS[3]  the group's dead-letter stream
-- ARGV[1]  group
-- ARGV[2]  consumer to claim for
-- ARGV[3]  visibility timeout in ms (entries idle at least this long are claimed)
-- ARGV[4]  maximum number of entries to claim
-- ARGV[5]  XAUTOCLAIM cursor ("0-0" to scan from the start of the pending list)
-- ARGV[6]  maximum attempts
-- ARGV[7]  the topic's name (recorded on dead letters)
--
-- Returns  {next XAUTOCLAIM cursor, {{id, payload, attempt}, ...} in id order,
--           ms until the next delayed entry is due, or -1 when none is waiting}

local stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, consumer = ARGV[1], ARGV[2]
local min_idle = tonumber(ARGV[3])
local count = tonumber(ARGV[4])
local cursor = ARGV[5]
local max_attempts = tonumber(ARGV[6])
local topic = ARGV[7]

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local candidates = {}
local seen = {}
local function add(id)
  if not seen[id] then
    seen[id] = true
    table.insert(candidates, id)
  end
end

-- Nak'ed entries whose delay is over.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, count)) do
  redis.call('ZREM', delayed, id)
  add(id)
end

-- Entries idle for the visibility timeout. JUSTID claims them without counting an attempt, so an
-- entry still waiting out a nak delay longer than the visibility timeout can be left alone (its
-- idle time restarts; it is handed out once due, above).
if #candidates < count then
  local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, min_idle, cursor,
    'COUNT', count - #candidates, 'JUSTID')
  cursor = claimed[1]
  for _, id in ipairs(claimed[2]) do
    if not redis.call('ZSCORE', delayed, id) then
      add(id)
    end
  end
end

local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
table.sort(candidates, function(left, right)
  local left_ms, left_seq = parse_id(left)
  local right_ms, right_seq = parse_id(right)
  if left_ms ~= right_ms then
    return left_ms < right_ms
  end
  return left_seq < right_seq
end)

local function payload_of(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'd' then
      return fields[i + 1]
    end
  end
  return ''
end

local deliveries = {}
for _, id in ipairs(candidates) do
  -- Without JUSTID, XCLAIM increments the delivery counter. It returns nothing for an entry that
  -- was acked meanwhile, and drops a trimmed entry from the pending list.
  local entry = redis.call('XCLAIM', stream, group, consumer, 0, id)[1]
  if entry and entry[2] then
    local payload = payload_of(entry[2])
    local attempt = redis.call('XPENDING', stream, group, id, id, 1)[1][4]
    if attempt > max_attempts then
      redis.call('XADD', dead, '*', 'd', payload, 'source-topic', topic, 'source-id', id,
        'group', group, 'attempts', attempt - 1)
      redis.call('XACK', stream, group, id)
    else
      table.insert(deliveries, {id, payload, attempt})
    end
  end
end

local next_due = -1
local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if first[2] then
  next_due = math.max(0, tonumber(first[2]) - now)
end
return {cursor, deliveries, next_due}
