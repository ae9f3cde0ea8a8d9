-- Extends a worker-id lease and records the holder's timestamp bound, only if the holder still
-- holds it (it neither expired nor was taken over).
-- KEYS[1]: the lease  <prefix>ids:worker:{<n>}   KEYS[2]: the bound  <prefix>ids:worker:{<n>}:minted-until
-- ARGV[1]: holder   ARGV[2]: lease time (ms)   ARGV[3]: minted-until (Unix ms)
-- Returns: 'renewed' or 'lost'
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'lost'
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'renewed'
