-- Rotates a login session's refresh token: the presented generation must be the current one, and
-- becomes the next. Presenting an older generation again (a stolen token replayed, or the thief
-- having used it first) revokes the whole session. Atomic, so two nodes handed the same token at
-- once rotate it once and see the other attempt as reuse. One exception, for a client whose answer
-- was lost (a node died, the network dropped): the generation just used up, presented again within
-- the grace period after that rotation, gets the current generation once more instead of ending
-- the session (the two holders then share it; whichever is second at the next rotation ends it).
--
-- KEYS: [1] auth:refresh:{sessionId} (Keys.refreshSession): HASH {gen, user, at, revoked}
-- ARGV: [1] the presented generation; [2] the token's user id; [3] time to live in ms;
--       [4] "seed" when the caller found the session live in its durable record (the key was
--       lost with Redis): the presented generation is taken as current; else "check";
--       [5] now, epoch ms; [6] the grace period in ms
-- Returns: {"ok", generation to issue} | {"unknown"} | {"revoked"} | {"reused"}
local gen = redis.call('HGET', KEYS[1], 'gen')
if redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return {'revoked'} end
if not gen then
  if ARGV[4] ~= 'seed' then return {'unknown'} end
  gen = ARGV[1]
  redis.call('HSET', KEYS[1], 'user', ARGV[2])
elseif redis.call('HGET', KEYS[1], 'user') ~= ARGV[2] then
  return {'revoked'}
elseif gen ~= ARGV[1] then
  local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
  if tonumber(ARGV[1]) == tonumber(gen) - 1 and tonumber(ARGV[5]) - at <= tonumber(ARGV[6]) then
    return {'ok', gen}
  end
  redis.call('HSET', KEYS[1], 'revoked', 'reuse')
  return {'reused'}
end
local next = tonumber(gen) + 1
redis.call('HSET', KEYS[1], 'gen', tostring(next), 'at', ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return {'ok', tostring(next)}
