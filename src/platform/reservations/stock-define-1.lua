-- Puts a SKU's stock on sale at epoch 1, unless it already has a sale (which is then left untouched).
-- KEYS[1]: the sale hash {sku}:sale (fields: stock, limit, starts, ends, reserved, sold, version,
--          epoch, taken, hbits, hk)
-- ARGV[1]: stock   ARGV[2]: per-user limit   ARGV[3]: starts (epoch ms)   ARGV[4]: ends (epoch ms)
-- ARGV[5]: bits and ARGV[6]: hash functions of the SKU's holders filter (holdersShape(stock))
-- Returns: 1 = defined, 0 = the SKU already had a sale
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
-- Versions are epoch * 2^32 + changes since the load (see reservation-book.ts).
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3], 'ends', ARGV[4],
  'reserved', 0, 'sold', 0, 'epoch', 1, 'taken', 0, 'version', string.format('%d', 4294967296),
  'hbits', ARGV[5], 'hk', ARGV[6])
return 1
