-- Puts a SKU's stock on sale, unless it already has a sale (which is then left untouched).
-- KEYS[1]: the sale hash {sku}:sale (fields: stock, limit, starts, ends, reserved, sold, version)
-- ARGV[1]: stock   ARGV[2]: per-user limit   ARGV[3]: starts (epoch ms)   ARGV[4]: ends (epoch ms)
-- Returns: 1 = defined, 0 = the SKU already had a sale
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3], 'ends', ARGV[4],
  'reserved', 0, 'sold', 0, 'version', 0)
return 1
