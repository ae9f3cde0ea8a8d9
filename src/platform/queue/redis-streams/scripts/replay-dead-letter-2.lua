-- Moves one dead letter back to its original topic: XADD there, XDEL from the dead-letter stream,
-- in one atomic step (and one MULTI/EXEC in the append-only file), so a crash can neither lose it
-- nor leave it in both streams.
--
-- KEYS[1]  the dead-letter stream
-- KEYS[2]  the original topic's stream
-- ARGV[1]  the dead letter's entry id
-- ARGV[2]  approximate MAXLEN to trim the original stream to, or 0 for no trimming
--
-- Returns  1 when moved; 0 when the dead letter is gone (replayed or deleted meanwhile).

local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])[1]
if not entry then
  return 0
end
local payload = ''
for i = 1, #entry[2], 2 do
  if entry[2][i] == 'd' then
    payload = entry[2][i + 1]
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'd', payload)
else
  redis.call('XADD', KEYS[2], '*', 'd', payload)
end
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
