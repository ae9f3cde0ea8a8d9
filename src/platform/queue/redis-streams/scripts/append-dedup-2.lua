-- Appends a message unless a message with the same de-duplication id was appended within the
-- window. The check, the XADD and the marker are one atomic step, so concurrent retries of the
-- same append store it exactly once.
--
-- KEYS[1]  the topic's stream
-- KEYS[2]  the marker of this de-duplication id (a string key that expires with the window)
-- ARGV[1]  the payload
-- ARGV[2]  the de-duplication window in milliseconds
-- ARGV[3]  approximate MAXLEN to trim the stream to, or 0 for no trimming
-- ARGV[4]  the message's headers as a JSON object, or "" for none (stored in the field `h`)
--
-- Returns  {1, new entry id} when appended, {0, id of the first entry} for a duplicate.

local existing = redis.call('GET', KEYS[2])
if existing then
  return {0, existing}
end

local fields = {'d', ARGV[1]}
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  fields[3] = 'h'
  fields[4] = ARGV[4]
end
local id
if tonumber(ARGV[3]) > 0 then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(fields))
end
-- Set only after the XADD succeeded: scripts are not rolled back, and a marker left by a failed
-- XADD would make the caller's retry look like a duplicate of a message that was never stored.
redis.call('SET', KEYS[2], id, 'NX', 'PX', ARGV[2])
return {1, id}
