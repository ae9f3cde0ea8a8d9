-- Sets an item's bits in a Bloom filter bitmap and counts the items added.
-- KEYS[1]: the bitmap   KEYS[2]: the filter's meta hash (fields: bits, hashes, count, capacity)
-- ARGV[1]: the number of bits the caller computed positions for
-- ARGV[2]: how many items these positions belong to; ARGV[3..]: bit positions
-- Returns: the item count after adding, or -1 = the caller's shape is stale (re-read meta, retry)
if redis.call('HGET', KEYS[2], 'bits') ~= ARGV[1] then
  return -1
end
for i = 3, #ARGV do
  redis.call('SETBIT', KEYS[1], ARGV[i], 1)
end
return redis.call('HINCRBY', KEYS[2], 'count', ARGV[2])
