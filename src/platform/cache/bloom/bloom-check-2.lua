-- Tests an item's bits in a Bloom filter bitmap.
-- KEYS[1]: the bitmap   KEYS[2]: the filter's meta hash (fields: bits, hashes, count, capacity)
-- ARGV[1]: the number of bits the caller computed positions for; ARGV[2..]: bit positions
-- Returns: 1 = maybe present, 0 = absent, -1 = the caller's shape is stale (re-read meta, retry)
if redis.call('HGET', KEYS[2], 'bits') ~= ARGV[1] then
  return -1
end
for i = 2, #ARGV do
  if redis.call('GETBIT', KEYS[1], ARGV[i]) == 0 then
    return 0
  end
end
return 1
