-- "Still working on it": restarts a delivery's visibility timeout without counting an attempt.
-- The timeout is the entry's idle time in the pending list (claim-3.lua hands out entries idle
-- for the visibility timeout); XCLAIM to the consumer that already holds it, with min-idle-time 0
-- and JUSTID, resets that idle time to 0 and, because of JUSTID, leaves the delivery counter alone.
--
-- KEYS[1]  the topic's stream
-- KEYS[2]  the group's delayed set (ZSET: entry id -> due time in ms)
-- ARGV[1]  group
-- ARGV[2]  consumer the delivery was made to
-- ARGV[3]  entry id
-- ARGV[4]  attempt number of that delivery
--
-- Returns  1 when the timeout restarted; 0 when this delivery is no longer current (acked,
--          nak'ed, or claimed again after its visibility timeout, by this consumer or another):
--          a stale touch must neither take an entry from its new holder nor revive one.

local stream, delayed = KEYS[1], KEYS[2]
local group, consumer, id = ARGV[1], ARGV[2], ARGV[3]

local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
if not pending or pending[2] ~= consumer or pending[4] ~= tonumber(ARGV[4]) then
  return 0
end
-- Nak'ed: still pending to this consumer with the same count, but waiting out its delay.
if redis.call('ZSCORE', delayed, id) then
  return 0
end

redis.call('XCLAIM', stream, group, consumer, 0, id, 'JUSTID')
return 1
