-- Takes one snowflake worker id for a holder, if nobody holds it (SET NX PX: an expired lease is
-- simply gone, so it is free).
-- KEYS[1]: the lease  <prefix>ids:worker:{<n>}          (value: the holder; expires by PX)
-- KEYS[2]: the bound  <prefix>ids:worker:{<n>}:minted-until (Unix ms; no expiry, survives holders)
-- ARGV[1]: holder   ARGV[2]: lease time (ms)
-- Returns: {'acquired', <minted-until or ''>} or {'taken'}
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'acquired', redis.call('GET', KEYS[2]) or ''}
end
return {'taken'}
