-- Takes back into Redis a reservation the database holds but Redis does not (Redis lost it, or a
-- rebuild read the database just before its row was committed), if the stock still allows it.
-- Neither the window nor the user's limit is checked again: the order was accepted already.
-- KEYS: as in stock-reserve-5.lua ({sku}:sale, :held, :keys, :res, :expiry)
-- ARGV[1]: order id   ARGV[2]: user id   ARGV[3]: quantity   ARGV[4]: idempotency key
-- ARGV[5]: status (reserved | confirmed)   ARGV[6]: reserved at (epoch ms)   ARGV[7]: expires at
-- Returns: 'present' (Redis has it), 'adopted', 'no_sale', 'no_stock', or 'conflict' (the user's
-- key names another live reservation)
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return 'present'
end
local sale = redis.call('HMGET', KEYS[1], 'stock', 'reserved', 'sold')
if not sale[1] then
  return 'no_sale'
end
local quantity = tonumber(ARGV[3])
if quantity > tonumber(sale[1]) - tonumber(sale[2]) - tonumber(sale[3]) then
  return 'no_stock'
end
local user_key = ARGV[2] .. '\0' .. ARGV[4]
local other = redis.call('HGET', KEYS[3], user_key)
if other and other ~= ARGV[1] then
  return 'conflict'
end
local status = ARGV[5] == 'confirmed' and 'confirmed' or 'reserved'
if status == 'confirmed' then
  redis.call('HINCRBY', KEYS[1], 'sold', quantity)
else
  redis.call('HINCRBY', KEYS[1], 'reserved', quantity)
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], quantity)
redis.call('HSET', KEYS[3], user_key, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1],
  cjson.encode({u = ARGV[2], q = quantity, k = ARGV[4], s = status, r = ARGV[6], e = ARGV[7]}))
return 'adopted'
