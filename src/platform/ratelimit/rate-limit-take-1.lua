-- Takes one token from a rate-limit bucket (a token bucket kept as a hash), refilling it first for
-- the time since it was last touched. The same arithmetic as takeToken in rate-limiter.ts.
--
-- KEYS[1]  the bucket (hash: tokens, at)
-- ARGV[1]  tokens added per second
-- ARGV[2]  most tokens the bucket holds (the burst)
--
-- Returns  {1, 0} when a token was taken; {0, ms until one is there} when refused.

local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
-- The server's clock, so gateways whose clocks disagree still share one bucket correctly.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)

local allowed, wait_ms = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
-- A full bucket needs no key: it expires once it would have refilled completely.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait_ms}
