-- Replaces a SKU's live stock with what the database of record holds, under the epoch the
-- database minted for this load, unless Redis already holds that epoch or a later one (another
-- inventory process loaded it first, and reservations may have been taken on it since).
-- KEYS: as in stock-transition-7.lua ({sku}:sale, :held, :keys, :res, :expiry, :holders, :releasing)
-- ARGV[1]: stock   ARGV[2]: per-user limit   ARGV[3]: starts (epoch ms)   ARGV[4]: ends (epoch ms)
-- ARGV[5]: epoch
-- ARGV[6]: units sold (confirmed reservations, which Redis holds only as totals)
-- ARGV[7], ARGV[8]: the holders filter's bits and hash functions; ARGV[9]: its bitmap (binary)
-- ARGV[10]: n, the number of users holding confirmed units; ARGV[11 .. 10 + 2n]: user id, units
-- ARGV[11 + 2n ..]: live reservations, 7 values each: order id, user id, quantity, idempotency
--            key, status (reserved | accepted), reserved at (epoch ms), expires at (epoch ms)
-- Returns: 1 = loaded, 0 = Redis already holds this epoch or a later one
local epoch = tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[1], 'epoch')
if current and tonumber(current) >= epoch then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[6], ARGV[9])
end
local holders = tonumber(ARGV[10])
for i = 11, 10 + 2 * holders, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
local reserved = 0
for i = 11 + 2 * holders, #ARGV, 7 do
  local order_id, user, quantity, key = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local status, reserved_at, expires_at = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  reserved = reserved + quantity
  if status ~= 'accepted' then
    status = 'reserved'
    redis.call('ZADD', KEYS[5], expires_at, order_id)
  end
  redis.call('HINCRBY', KEYS[2], user, quantity)
  redis.call('HSET', KEYS[3], user .. '\0' .. key, order_id)
  redis.call('HSET', KEYS[4], order_id,
    cjson.encode({u = user, q = quantity, k = key, s = status, r = reserved_at, e = expires_at}))
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'limit', ARGV[2], 'starts', ARGV[3], 'ends', ARGV[4],
  'reserved', reserved, 'sold', ARGV[6], 'epoch', ARGV[5], 'taken', 0,
  'version', string.format('%d', epoch * 4294967296), 'hbits', ARGV[7], 'hk', ARGV[8])
return 1
