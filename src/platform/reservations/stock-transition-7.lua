-- Moves one reservation to the state its database row now has, atomically with the SKU's counters
-- (see `Transition` in reservation-book.ts).
-- KEYS[1..6]: as in stock-reserve-6.lua ({sku}:sale, :held, :keys, :res, :expiry, :holders)
-- KEYS[7]: {sku}:releasing sorted set, order id scored by the deadline of its release (epoch ms)
-- ARGV[1]: the operation   ARGV[2]: order id   ARGV[3]: for begin-release, ms it may take
-- ARGV[4], ARGV[5]: for unsell, the user id and quantity of the settled reservation
-- ARGV[6]: the holders filter's size in bits the caller computed ARGV[7..] for
-- ARGV[7..]: the bit positions of the order id's settled entry in the holders filter
--   accept         reserved -> accepted (accepted stays)
--   confirm        reserved | accepted -> settled: units move to sold, the reservation leaves
--                  :res, :keys and :expiry, and its order id goes into the holders filter
--   unsell         a settled reservation was released by the record: its units go back on sale
--   begin-release  reserved -> releasing (units stay held; it can no longer be confirmed). A
--                  release not finished or aborted by its deadline (its process died) is found by
--                  the sweeper, which settles it from the database row.
--   abort-release  releasing -> reserved
--   forget         any state -> gone, units back on sale (its row was released, or never written)
-- Returns: {'unknown'} when there is no such reservation, {'settled'} when it is not held because
-- it settled (by the holders filter), {'refused', record} when its state does not allow the
-- operation, {'ok', record} for a change of state, {'ok'} once settled, or
-- {'ok', '', available after, version} when the reservation is gone (forget, unsell), or
-- {'stale_shape', bits, hash functions} when the caller's filter shape is not the SKU's.
local op = ARGV[1]
local shape = redis.call('HMGET', KEYS[1], 'hbits', 'hk')
if shape[1] and shape[1] ~= ARGV[6] then
  return {'stale_shape', shape[1], shape[2]}
end

local function availability(version)
  local sale = redis.call('HMGET', KEYS[1], 'stock', 'reserved', 'sold')
  return {'ok', '', tonumber(sale[1]) - tonumber(sale[2]) - tonumber(sale[3]), version}
end

if op == 'unsell' then
  if not shape[1] then
    return {'unknown'}
  end
  local quantity = tonumber(ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'sold', -quantity)
  if redis.call('HINCRBY', KEYS[2], ARGV[4], -quantity) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[4])
  end
  return availability(redis.call('HINCRBY', KEYS[1], 'version', 1))
end

local record = redis.call('HGET', KEYS[4], ARGV[2])
if not record then
  if not shape[1] or #ARGV < 7 then
    return {'unknown'}
  end
  for i = 7, #ARGV do
    if redis.call('GETBIT', KEYS[6], ARGV[i]) == 0 then
      return {'unknown'}
    end
  end
  return {'settled'}
end
local r = cjson.decode(record)

local function set_status(status)
  r.s = status
  record = cjson.encode(r)
  redis.call('HSET', KEYS[4], ARGV[2], record)
  return {'ok', record}
end

if op == 'accept' then
  if r.s == 'accepted' then
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
  if r.s ~= 'reserved' and r.s ~= 'accepted' then
    return {'refused', record}
  end
  -- No new version: what is available does not change.
  redis.call('HINCRBY', KEYS[1], 'reserved', -r.q)
  redis.call('HINCRBY', KEYS[1], 'sold', r.q)
  redis.call('HDEL', KEYS[3], r.u .. '\0' .. r.k)
  redis.call('HDEL', KEYS[4], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[2])
  for i = 7, #ARGV do
    redis.call('SETBIT', KEYS[6], ARGV[i], 1)
  end
  return {'ok'}
end

if op == 'begin-release' then
  if r.s ~= 'reserved' then
    return {'refused', record}
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('ZADD', KEYS[7], now + tonumber(ARGV[3]), ARGV[2])
  return set_status('releasing')
end

if op == 'abort-release' then
  if r.s ~= 'releasing' then
    return {'refused', record}
  end
  redis.call('ZADD', KEYS[5], r.e, ARGV[2])
  redis.call('ZREM', KEYS[7], ARGV[2])
  return set_status('reserved')
end

if op == 'forget' then
  redis.call('HINCRBY', KEYS[1], 'reserved', -r.q)
  local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
  if redis.call('HINCRBY', KEYS[2], r.u, -r.q) <= 0 then
    redis.call('HDEL', KEYS[2], r.u)
  end
  redis.call('HDEL', KEYS[3], r.u .. '\0' .. r.k)
  redis.call('HDEL', KEYS[4], ARGV[2])
  redis.call('ZREM', KEYS[5], ARGV[2])
  redis.call('ZREM', KEYS[7], ARGV[2])
  return availability(version)
end

return redis.error_reply('unknown operation ' .. op)
