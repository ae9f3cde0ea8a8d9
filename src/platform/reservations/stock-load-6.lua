-- Replaces a SKU's live stock with what the database of record holds, under the epoch the
-- database minted for this load, unless Redis already holds that epoch or a later one (another
-- inventory process loaded it first, and reservations may have been taken on it since).
-- KEYS: as in stock-transition-6.lua ({sku}:sale, :held, :keys, :res, :expiry, :releasing)
-- ARGV[1]: stock   ARGV[2]: per-user limit   ARGV[3]: starts (epoch ms)   ARGV[4]: ends (epoch ms)
-- ARGV[5]: epoch
-- ARGV[6..]: live reservations, 7 values each: order id, user id, quantity, idempotency key,
--            status (reserved | accepted | confirmed), reserved at (epoch ms), expires at (epoch ms)
-- Returns: 1 = loaded, 0 = Redis already holds this epoch or a later one
local epoch = tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[1], 'epoch')
if current and tonumber(current) >= epoch then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
local reserved, sold = 0, 0
for i = 6, #ARGV, 7 do
  local order_id, user, quantity, key = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local status, reserved_at, expires_at = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  if status == 'confirmed' then
    sold = sold + quantity
  else
    reserved = reserved + quantity
    if status ~= 'accepted' then
      status = 'reserved'
      redis.call('ZADD', KEYS[5], expires_at, order_id)
    end
  end
  redis.call('HINCRBY', KEYS[2], user, quantity)
  redis.call('HSET', KEYS[3], user .. '\0' .. key, order_id)
  redis.call('HSET', KEYS[4], order_id,
    cjson.encode({u = user, q = quantity, k = key, s = status, r = reserved_at, e = expires_at}))
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3], 'ends', ARGV[4],
  'reserved', reserved, 'sold', sold, 'epoch', ARGV[5], 'taken', 0,
  'version', string.format('%d', epoch * 4294967296))
return 1
