-- Tests an item's bits in a Bloom filter bitmap, and reads the stamp stored with them.
-- KEYS[1]: the bitmap   KEYS[2]: the filter's meta hash (bits, hashes, count, capacity, stamp,
--          generation, builtAt)
-- ARGV[1]: the number of bits the caller computed positions for; ARGV[2..]: bit positions
-- Returns: {answer, stamp}; answer is
--          "maybe"       = every bit is set
--          "absent"      = a bit is clear: the item was never added to these contents
--          "stale-shape" = the caller's shape is not the filter's (re-read meta, retry)
--          "lost"        = the meta says built but the bitmap is gone (evicted): rule nothing out
local meta = redis.call('HMGET', KEYS[2], 'bits', 'stamp')
if meta[1] ~= ARGV[1] then
  return {'stale-shape', '0'}
end
local stamp = meta[2] or '0'
for i = 2, #ARGV do
  if redis.call('GETBIT', KEYS[1], ARGV[i]) == 0 then
    if redis.call('EXISTS', KEYS[1]) == 0 then
      return {'lost', stamp}
    end
    return {'absent', stamp}
  end
end
return {'maybe', stamp}
