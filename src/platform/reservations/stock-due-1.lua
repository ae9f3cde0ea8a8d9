-- Order ids in one of a SKU's sorted sets whose score (an instant, epoch ms) has passed by the
-- server's clock: reservations past their expiry, or releases past their deadline.
-- KEYS[1]: {sku}:expiry or {sku}:releasing sorted set
-- ARGV[1]: at most this many
-- Returns: the order ids, earliest first
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
