-- Reserves stock for one order in one atomic step: the idempotency key first (a replay must never
-- take stock again), then the sale window, the user's limit, and only then the stock. Time is the
-- server's (TIME), so every inventory process judges windows and expiries by one clock.
-- KEYS[1]: {sku}:sale hash (stock, limit, starts, ends, reserved, sold, version, epoch, taken)
-- KEYS[2]: {sku}:held hash, user id -> units the user holds
-- KEYS[3]: {sku}:keys hash, user id .. "\0" .. idempotency key -> order id
-- KEYS[4]: {sku}:res hash, order id -> JSON record {u, q, k, s, r, e}
-- KEYS[5]: {sku}:expiry sorted set, order id scored by expiry (epoch ms), `reserved` ones only
-- KEYS[6]: {sku}:holders, the holders filter's bitmap: every reservation's user-and-key pair, and
--          every settled one's order id (see SettledStock in reservation-book.ts)
-- Live reservations only are in :keys and :res; a confirmed one leaves them (stock-transition-7.lua).
-- ARGV[1]: order id   ARGV[2]: user id   ARGV[3]: quantity   ARGV[4]: idempotency key
-- ARGV[5]: time to live (ms)   ARGV[6]: '1' = the caller checked the record after 'maybe_settled'
-- ARGV[7]: the filter's size in bits the caller computed ARGV[8..] for
-- ARGV[8..]: the bit positions of the user-and-key pair in the holders filter
-- Returns one of:
--   {'reserved', order id, record, available after, version, epoch, taken}
--   {'duplicate', first order id, its record}
--   {'maybe_settled'}   the pair is in the holders filter but not live: ask the record
--   {'stale_shape', bits, hash functions}   the caller's filter shape is not the SKU's: retry
--   {'refused', reason, available, version}   reason: no_sale | sale_not_open | limit_exceeded | sold_out
--                                             (no_sale also for a sale written without a holders filter)
--   {'order_exists'}   the order id already names a reservation (ids are never reused)
local user_key = ARGV[2] .. '\0' .. ARGV[4]
local first = redis.call('HGET', KEYS[3], user_key)
if first then
  local record = redis.call('HGET', KEYS[4], first)
  if record then
    return {'duplicate', first, record}
  end
  -- A key without its record cannot be made by these scripts; drop it rather than block the user.
  redis.call('HDEL', KEYS[3], user_key)
end
local sale = redis.call('HMGET', KEYS[1], 'stock', 'limit', 'starts', 'ends', 'reserved', 'sold', 'version',
  'hbits', 'hk')
-- A sale without a holders filter was put there by an older version of these scripts: answered as
-- no sale, so the inventory loads it again from the database (under a new epoch, with a filter).
if not sale[1] or not sale[8] then
  return {'refused', 'no_sale', 0, 0}
end
if sale[8] ~= ARGV[7] then
  return {'stale_shape', sale[8], sale[9]}
end
if ARGV[6] ~= '1' then
  local all_set = true
  for i = 8, #ARGV do
    if redis.call('GETBIT', KEYS[6], ARGV[i]) == 0 then
      all_set = false
      break
    end
  end
  if all_set then
    return {'maybe_settled'}
  end
end
local stock, limit = tonumber(sale[1]), tonumber(sale[2])
local starts, ends = tonumber(sale[3]), tonumber(sale[4])
local reserved, sold, version = tonumber(sale[5]), tonumber(sale[6]), tonumber(sale[7])
local available = stock - reserved - sold
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local quantity = tonumber(ARGV[3])
if now < starts or now >= ends then
  return {'refused', 'sale_not_open', available, version}
end
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if held + quantity > limit then
  return {'refused', 'limit_exceeded', available, version}
end
if quantity > available then
  return {'refused', 'sold_out', available, version}
end
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return {'order_exists'}
end
local expires = now + tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[1], 'reserved', quantity)
version = redis.call('HINCRBY', KEYS[1], 'version', 1)
local taken = redis.call('HINCRBY', KEYS[1], 'taken', quantity)
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
redis.call('HINCRBY', KEYS[2], ARGV[2], quantity)
redis.call('HSET', KEYS[3], user_key, ARGV[1])
local record = cjson.encode({u = ARGV[2], q = quantity, k = ARGV[4], s = 'reserved',
  r = string.format('%d', now), e = string.format('%d', expires)})
redis.call('HSET', KEYS[4], ARGV[1], record)
redis.call('ZADD', KEYS[5], expires, ARGV[1])
for i = 8, #ARGV do
  redis.call('SETBIT', KEYS[6], ARGV[i], 1)
end
return {'reserved', ARGV[1], record, available - quantity, version, epoch, taken}
