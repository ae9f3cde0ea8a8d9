-- Moves one delivery to the dead-letter stream: its last allowed attempt was nak'ed, or its
-- visibility timeout expired. XADD there and XACK here in one atomic step.
--
-- KEYS[1]  the topic's stream
-- KEYS[2]  the group's dead-letter stream
-- KEYS[3]  the group's delayed set
-- ARGV[1]  group
-- ARGV[2]  consumer the delivery was made to
-- ARGV[3]  entry id
-- ARGV[4]  attempt number of that delivery
-- ARGV[5]  the topic's name (recorded on the dead letter)
--
-- Returns  1 when moved; 0 when this delivery is no longer current (acked, or claimed by another
--          consumer for a later attempt, which will dead-letter it itself if need be).

local stream, dead, delayed = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, id = ARGV[1], ARGV[2], ARGV[3]
local attempt = tonumber(ARGV[4])

local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
if not pending or pending[2] ~= consumer or pending[4] ~= attempt then
  return 0
end

local entry = redis.call('XRANGE', stream, id, id)[1]
if entry then
  local payload = ''
  for i = 1, #entry[2], 2 do
    if entry[2][i] == 'd' then
      payload = entry[2][i + 1]
    end
  end
  redis.call('XADD', dead, '*', 'd', payload, 'source-topic', ARGV[5], 'source-id', id,
    'group', group, 'attempts', attempt)
end
redis.call('XACK', stream, group, id)
redis.call('ZREM', delayed, id)
return 1
