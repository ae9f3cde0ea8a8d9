-- Loads a sale and its live reservations from the database of record, only if Redis holds no sale
-- for the SKU (a new deployment, or a Redis that lost its data). An existing sale is never
-- overwritten: a difference from the database is drift, for reconciliation to report.
-- KEYS: as in stock-reserve-5.lua ({sku}:sale, :held, :keys, :res, :expiry)
-- ARGV[1]: stock   ARGV[2]: per-user limit   ARGV[3]: starts (epoch ms)   ARGV[4]: ends (epoch ms)
-- ARGV[5]: unused (kept so the reservation list starts at ARGV[6])
-- ARGV[6..]: reservations, 7 values each: order id, user id, quantity, idempotency key,
--            status (reserved | confirmed), reserved at (epoch ms), expires at (epoch ms)
-- Returns: 1 = loaded, 0 = the sale was already there
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local reserved, sold = 0, 0
for i = 6, #ARGV, 7 do
  local order_id, user, quantity, key = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local status, reserved_at, expires_at = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  if status == 'confirmed' then
    sold = sold + quantity
  else
    status = 'reserved'
    reserved = reserved + quantity
    redis.call('ZADD', KEYS[5], expires_at, order_id)
  end
  redis.call('HINCRBY', KEYS[2], user, quantity)
  redis.call('HSET', KEYS[3], user .. '\0' .. key, order_id)
  redis.call('HSET', KEYS[4], order_id,
    cjson.encode({u = user, q = quantity, k = key, s = status, r = reserved_at, e = expires_at}))
end
-- The version restarts from Redis's clock in microseconds: above any version the lost data can
-- have reached (versions count changes from 0, or from an earlier restore's clock), so receivers
-- of "sold out" news order the new news after the old. The server's clock, not the caller's: two
-- callers' clocks may disagree.
local now = redis.call('TIME')
local version = tonumber(now[1]) * 1000000 + tonumber(now[2])
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3], 'ends', ARGV[4],
  'reserved', reserved, 'sold', sold, 'version', string.format('%d', version))
return 1
