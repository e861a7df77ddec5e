-- Shared opening of reap-dead-node.lua and reap-sockets.lua, not a script of its own:
-- presence/reap-scripts.ts puts it in front of each of them, so it runs inside (and is atomic with)
-- the script it opens. Defines key(), reap() and the list regions for the rest of the script. Key
-- names come in as templates from presence/keys.ts, so the schema still lives in one file.
--
-- KEYS: none of its own
-- ARGV: [1] session:{}, [2] user:{}:sessions, [3] heartbeat:{}, [4] region:{}:members, the key
--       templates ('{}' stands for the id)
-- Defines: key(template, id), the key name; reap(sid), which deletes the socket's session and
--          heartbeat and removes it from its user's set and its current region's set, adding that
--          region's id to regions (one entry per socket reaped in a region, so ids may repeat)
local T_SESSION, T_USER, T_HEARTBEAT, T_REGION = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function key(template, id)
  return (string.gsub(template, '{}', function() return id end))
end
local regions = {}
local function reap(sid)
  local raw = redis.call('GET', key(T_SESSION, sid))
  if raw then
    local ok, s = pcall(cjson.decode, raw)
    if ok and type(s) == 'table' then
      if type(s.userId) == 'string' then redis.call('SREM', key(T_USER, s.userId), sid) end
      if type(s.currentRegionId) == 'string' then
        redis.call('SREM', key(T_REGION, s.currentRegionId), sid)
        regions[#regions + 1] = s.currentRegionId
      end
    end
  end
  redis.call('DEL', key(T_SESSION, sid), key(T_HEARTBEAT, sid))
end
