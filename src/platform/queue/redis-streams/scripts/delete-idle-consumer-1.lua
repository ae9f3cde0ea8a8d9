-- Removes a consumer from a group, but only if it holds no pending entries: XGROUP DELCONSUMER
-- drops a consumer's pending entries from the group, after which nobody could claim them.
--
-- KEYS[1]  the topic's stream
-- ARGV[1]  group
-- ARGV[2]  consumer
--
-- Returns  1 when deleted, 0 when kept because it still holds entries.

if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
