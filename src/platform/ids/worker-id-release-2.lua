-- Frees a worker id and records the holder's final timestamp bound, only if the holder still
-- holds it (a lease taken over by another process is left alone).
-- KEYS[1]: the lease  <prefix>ids:worker:{<n>}   KEYS[2]: the bound  <prefix>ids:worker:{<n>}:minted-until
-- ARGV[1]: holder   ARGV[2]: minted-until (Unix ms)
-- Returns: 'released' or 'not_held'
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'not_held'
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 'released'
