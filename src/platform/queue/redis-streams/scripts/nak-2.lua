-- Gives a delivery back to its group, to be handed out again once a delay is over (claim-3.lua
-- picks it up from the delayed set). The entry stays in the pending list meanwhile, so it still
-- counts in the group's lag and is never lost.
--
-- KEYS[1]  the topic's stream
-- KEYS[2]  the group's delayed set (ZSET: entry id -> due time in ms)
-- ARGV[1]  group
-- ARGV[2]  consumer the delivery was made to
-- ARGV[3]  entry id
-- ARGV[4]  attempt number of that delivery
-- ARGV[5]  delay in ms (0: due at once)
--
-- Returns  1 when scheduled; 0 when this delivery is no longer current (acked, or claimed by
--          another consumer after its visibility timeout): a stale nak must not disturb that one.

local stream, delayed = KEYS[1], KEYS[2]
local group, consumer, id = ARGV[1], ARGV[2], ARGV[3]

local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
if not pending or pending[2] ~= consumer or pending[4] ~= tonumber(ARGV[4]) then
  return 0
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', delayed, now + tonumber(ARGV[5]), id)
return 1
