-- Which regions' counts to push: for each region, its member count now, and whether that count
-- differs from the one last pushed for it by any node (which it then records). Atomic, so when
-- several nodes flush the same region at once exactly one of them pushes a given change.
--
-- KEYS: for each region, in pairs: region:{id}:members, presence:pushed:{id}
-- ARGV: [1] TTL in seconds of the presence:pushed keys
-- Returns: a flat array, for each region in order: count, changed (1 or 0)
local out = {}
for i = 1, #KEYS, 2 do
  local count = redis.call('SCARD', KEYS[i])
  local changed = 0
  if redis.call('GET', KEYS[i + 1]) ~= tostring(count) then
    redis.call('SET', KEYS[i + 1], count, 'EX', ARGV[1])
    changed = 1
  end
  out[#out + 1] = count
  out[#out + 1] = changed
end
return out
