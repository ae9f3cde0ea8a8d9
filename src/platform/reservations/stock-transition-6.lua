-- Moves one reservation to the state its database row now has, atomically with the SKU's counters
-- (see `Transition` in reservation-book.ts).
-- KEYS[1..5]: as in stock-reserve-5.lua ({sku}:sale, :held, :keys, :res, :expiry)
-- KEYS[6]: {sku}:releasing sorted set, order id scored by the deadline of its release (epoch ms)
-- ARGV[1]: the operation   ARGV[2]: order id   ARGV[3]: for begin-release, ms it may take
--   accept         reserved -> accepted (accepted and confirmed stay)
--   confirm        reserved | accepted -> confirmed (a confirmed one stays)
--   begin-release  reserved -> releasing (units stay held; it can no longer be confirmed). A
--                  release not finished or aborted by its deadline (its process died) is found by
--                  the sweeper, which settles it from the database row.
--   abort-release  releasing -> reserved
--   forget         any state -> gone, units back on sale (its row was released, or never written)
-- Returns: {'unknown'} when there is no such reservation, {'refused', record} when its state does
-- not allow the operation, {'ok', record} for a change of state, or
-- {'ok', '', available after, version} when the reservation is gone.
local record = redis.call('HGET', KEYS[4], ARGV[2])
if not record then
  return {'unknown'}
end
local r = cjson.decode(record)
local op = ARGV[1]

local function set_status(status)
  r.s = status
  record = cjson.encode(r)
  redis.call('HSET', KEYS[4], ARGV[2], record)
  return {'ok', record}
end

if op == 'accept' then
  if r.s == 'accepted' or r.s == 'confirmed' then
    return {'ok', record}
  end
  if r.s ~= 'reserved' then
    return {'refused', record}
  end
  -- Accepted orders never expire: their message is in the stream.
  redis.call('ZREM', KEYS[5], ARGV[2])
  return set_status('accepted')
end

if op == 'confirm' then
  if r.s == 'confirmed' then
    return {'ok', record}
  end
  if r.s ~= 'reserved' and r.s ~= 'accepted' then
    return {'refused', record}
  end
  -- No new version: what is available does not change.
  redis.call('HINCRBY', KEYS[1], 'reserved', -r.q)
  redis.call('HINCRBY', KEYS[1], 'sold', r.q)
  redis.call('ZREM', KEYS[5], ARGV[2])
  return set_status('confirmed')
end

if op == 'begin-release' then
  if r.s ~= 'reserved' then
    return {'refused', record}
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('ZADD', KEYS[6], now + tonumber(ARGV[3]), ARGV[2])
  return set_status('releasing')
end

if op == 'abort-release' then
  if r.s ~= 'releasing' then
    return {'refused', record}
  end
  redis.call('ZADD', KEYS[5], r.e, ARGV[2])
  redis.call('ZREM', KEYS[6], ARGV[2])
  return set_status('reserved')
end

if op == 'forget' then
  if r.s == 'confirmed' then
    redis.call('HINCRBY', KEYS[1], 'sold', -r.q)
  else
    redis.call('HINCRBY', KEYS[1], 'reserved', -r.q)
  end
  local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
  if redis.call('HINCRBY', KEYS[2], r.u, -r.q) <= 0 then
    redis.call('HDEL', KEYS[2], r.u)
  end
  redis.call('HDEL', KEYS[3], r.u .. '\0' .. r.k)
  redis.call('HDEL', KEYS[4], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('ZREM', KEYS[6], ARGV[2])
  local sale = redis.call('HMGET', KEYS[1], 'stock', 'reserved', 'sold')
  return {'ok', '', tonumber(sale[1]) - tonumber(sale[2]) - tonumber(sale[3]), version}
end

return redis.error_reply('unknown operation ' .. op)
