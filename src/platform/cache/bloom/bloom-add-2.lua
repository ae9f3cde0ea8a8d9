-- Sets items' bits in a Bloom filter bitmap, counts them, and may move the filter's stamp on.
-- KEYS[1]: the bitmap   KEYS[2]: the filter's meta hash (bits, hashes, count, capacity, stamp,
--          generation, builtAt)
-- ARGV[1]: the number of bits the caller computed positions for
-- ARGV[2]: how many items these positions belong to
-- ARGV[3]: the new stamp, or "" to leave it; it only ever grows
-- ARGV[4]: the generation the new stamp was computed against: if the filter was rebuilt since,
--          the stamp is left (the bits are still added)
-- ARGV[5..]: bit positions
-- Returns: "added"
--          "stale-shape" = the caller's shape is not the filter's (re-read meta, retry)
--          "lost"        = the bitmap is gone: nothing is written (a bitmap holding only these
--                          items would make every other item "absent"); a rebuild is needed
if redis.call('HGET', KEYS[2], 'bits') ~= ARGV[1] then
  return 'stale-shape'
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'lost'
end
for i = 5, #ARGV do
  redis.call('SETBIT', KEYS[1], ARGV[i], 1)
end
redis.call('HINCRBY', KEYS[2], 'count', ARGV[2])
if ARGV[3] ~= '' and redis.call('HGET', KEYS[2], 'generation') == ARGV[4] then
  local stamp = tonumber(redis.call('HGET', KEYS[2], 'stamp') or '0')
  if tonumber(ARGV[3]) > stamp then
    redis.call('HSET', KEYS[2], 'stamp', ARGV[3])
  end
end
return 'added'
