-- Assigns one pothole/bump event to a hazard, atomically: of the hazards of the event's type within
-- the join radius, the one opened first (the smallest id: ids are ObjectIds, which begin with their
-- creation time), or else the new id the caller chose, added on the spot. Two nodes
-- running this for the first two reports of one pothole are serialised by Redis, so the second
-- finds what the first added: one hazard, not two. Loaded by roads/hazard-clusters.ts, which also
-- builds every key name from presence/keys.ts.
--
-- KEYS[1..n]      GEO set of each geohash-5 region around the event (the event's own region
--                 first): members are hazard ids at their positions, plus one `cell:<geohash7>`
--                 marker per cell whose open hazards were loaded from MongoDB into the set
-- KEYS[n+1..2n]   sorted set of each region's hazard ids by last sighting (epoch ms), same order
-- ARGV[1]         n, the number of regions
-- ARGV[2], [3]    event longitude, latitude
-- ARGV[4]         join radius, metres
-- ARGV[5]         the id to add when no hazard is near (24 hex digits, chosen by the caller)
-- ARGV[6]         the event's time (epoch ms): the hazard's last sighting
-- ARGV[7]         prune cutoff (epoch ms): hazards last seen before it have expired
-- ARGV[8]         key TTL, seconds (refreshed on every key this call is given)
-- ARGV[9]         most members pruned per region and call (bounds the script's run time)
-- ARGV[10]        '1' when the call carries the MongoDB open hazards of every cell listed (their
--                 markers are then set), '0' otherwise
-- ARGV[11]        c, the number of cells
-- then c groups   region index (1..n), marker member, marker longitude, marker latitude
-- then groups     seeds, hazards known open in MongoDB: region index, id, longitude, latitude,
--                 last sighting (epoch ms)
--
-- Returns {'seed'} when a cell's marker is missing (the set was lost, or never loaded) and the
-- call carries no seeds: the caller reads MongoDB and calls again with them. Otherwise
-- {'match', id} for the hazard joined, or {'new', ARGV[5]} once it is added.

local n = tonumber(ARGV[1])
local lon, lat, radius = ARGV[2], ARGV[3], ARGV[4]
local newId, seenMs = ARGV[5], ARGV[6]
local cutoff, ttl, pruneLimit = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local seeding = ARGV[10] == '1'
local cellsAt = 12
local seedsAt = cellsAt + 4 * tonumber(ARGV[11])

-- Expired hazards leave the sets (fixed ones are removed by the node that fixes them).
for i = 1, n do
  local stale = redis.call('ZRANGEBYSCORE', KEYS[n + i], '-inf', '(' .. cutoff, 'LIMIT', 0, pruneLimit)
  if #stale > 0 then
    redis.call('ZREM', KEYS[i], unpack(stale))
    redis.call('ZREM', KEYS[n + i], unpack(stale))
  end
end

-- Seeds never move a hazard already in the set (its position there may be newer).
for s = seedsAt, #ARGV, 5 do
  if tonumber(ARGV[s + 4]) >= cutoff then
    local k = tonumber(ARGV[s])
    redis.call('GEOADD', KEYS[k], 'NX', ARGV[s + 2], ARGV[s + 3], ARGV[s + 1])
    redis.call('ZADD', KEYS[n + k], 'GT', ARGV[s + 4], ARGV[s + 1])
  end
end

for c = cellsAt, seedsAt - 1, 4 do
  local k = tonumber(ARGV[c])
  if seeding then
    redis.call('GEOADD', KEYS[k], ARGV[c + 2], ARGV[c + 3], ARGV[c + 1])
  elseif not redis.call('ZSCORE', KEYS[k], ARGV[c + 1]) then
    return {'seed'}
  end
end

-- The first-opened hazard, not the nearest: a hazard opened later within the radius of another is
-- nearly always a satellite opened by one outlying report, and joining the nearest would let it
-- take every report on its side until one pothole showed as two hazards ~6 m apart.
local best, bestRegion = nil, nil
for i = 1, n do
  local hits = redis.call('GEOSEARCH', KEYS[i], 'FROMLONLAT', lon, lat, 'BYRADIUS', radius, 'm')
  for _, id in ipairs(hits) do
    if string.sub(id, 1, 5) ~= 'cell:' and (best == nil or id < best) then
      best, bestRegion = id, i
    end
  end
end

local result
if best then
  redis.call('ZADD', KEYS[n + bestRegion], 'GT', seenMs, best)
  result = {'match', best}
else
  redis.call('GEOADD', KEYS[1], lon, lat, newId)
  redis.call('ZADD', KEYS[n + 1], 'GT', seenMs, newId)
  result = {'new', newId}
end
for i = 1, 2 * n do
  redis.call('EXPIRE', KEYS[i], ttl)
end
return result
