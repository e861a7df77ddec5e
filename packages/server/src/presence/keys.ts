/**
 * The Redis key schema of the node (sessions, presence, hazard clusters): every key name the node
 * reads or writes is built here and nowhere else, so the schema can be reviewed (and grepped) in
 * one place.
 *
 * From the seed (`redis-integration-guide.md`), exact names; ops query them with redis-cli:
 *
 *   session:{socketId}          → JSON session (TTL SESSION_TTL_SECONDS)
 *   user:{userId}:sessions      → SET of socket ids (TTL SESSION_TTL_SECONDS)
 *   heartbeat:{socketId}        → last sign of life, epoch ms (TTL HEARTBEAT_TTL_SECONDS)
 *   region:{regionId}:members   → SET of socket ids in the region (TTL SESSION_TTL_SECONDS)
 *
 * Additions beyond the seed, for reaping the sessions of nodes that died without cleaning up:
 *
 *   presence:node:{nodeId}:alive    → epoch ms of the node's last liveness tick
 *                                      (TTL NODE_LIVENESS_TTL_SECONDS; gone = the node is dead)
 *   presence:node:{nodeId}:sockets  → SET of the socket ids the node owns (TTL SESSION_TTL_SECONDS)
 *   presence:nodes                  → SET of node ids that may own sockets (no TTL; the reaper
 *                                      removes a node once its sockets are reaped)
 *   presence:reaper:lock            → random token of the node currently reaping (PX = reaper interval)
 *   presence:node:{nodeId}:status   → JSON of the node's last health report for the ops map
 *                                      (ops/node-status.ts; TTL NODE_LIVENESS_TTL_SECONDS)
 *
 * And one so that a region's count is pushed once per change, by whichever node sees it first
 * (presence/push-counts.lua):
 *
 *   presence:pushed:{regionId}      → the count last sent in `presence:updated` for the region
 *                                      (TTL SESSION_TTL_SECONDS)
 *
 * Hazard clustering (roads/hazard-cluster.lua): which hazard an event joins is decided in Redis,
 * atomically, so two nodes never open two hazards for one pothole:
 *
 *   hazards:geo:{region}:{type}    → GEO set of the open hazard ids of a geohash-5 region and type
 *                                    (`pothole`/`bump`) at their positions, plus `cell:{geohash7}`
 *                                    markers for cells loaded from MongoDB (TTL = hazard expiry)
 *   hazards:seen:{region}:{type}   → ZSET of the same hazard ids by last sighting, epoch ms: expired
 *                                    ones are pruned from both (TTL = hazard expiry)
 *
 * Both are a cache of MongoDB's `hazards`: lost, they are loaded again from it cell by cell.
 * And the passes counted by each open hazard (roads/pass-counts.ts, roads/hazard-passes.ts):
 *
 *   hazards:passes:{hazardId}      → devices counted passing the hazard, for the share of them that
 *                                    must report it before it is confirmed (TTL = hazard expiry,
 *                                    renewed per pass; dropped once it is confirmed or closed).
 *                                    Lost, a hazard is judged on its accounts alone until counted again
 *
 * And one for road aggregates (roads/fold-lock.ts):
 *
 *   roads:fold:lock                 → random token of the aggregator writing folds now (PX, extended
 *                                      while held)
 *
 * And one for sign-in (auth/login-backoff.ts), so every node sees an account's failed logins:
 *
 *   auth:login:failures:{emailHash} → HASH {count, at}: failed logins in a row and the last one's
 *                                      epoch ms (TTL LOGIN_FAILURE_WINDOW); the email is hashed
 *   auth:refresh:{sessionId}        → HASH {gen, user, revoked?}: a login session's current refresh
 *                                      generation and, once logged out or its refresh token reused,
 *                                      why it was revoked (TTL REFRESH_TOKEN_TTL_SECONDS;
 *                                      auth/refresh-families.ts, durable copy in `login_sessions`)
 *
 * And the HTTP rate limits' counters, written by @fastify/rate-limit (http/rate-limit.ts):
 *
 *   ratelimit:http:address:{address}        → requests of a client address this minute (PX 60 s)
 *   ratelimit:http:account:{userId}         → requests with the account's access token this minute
 *   ratelimit:http:{METHOD}{route}-address:{address} → a route with its own budget (login, register)
 *
 * `{nodeId}` in these additions is the process's instance id: NODE_ID itself, or `NODE_ID#n` for
 * worker n of a node with WORKERS > 1, since each worker lives and dies on its own.
 *
 * The additions live under `presence:` and `hazards:` so they can never collide with the seed's names.
 * Isolation (tests, several deployments on one server) is by Redis database number or server,
 * never by renaming: the seed's monitoring commands must work as written.
 */

/** `{}` marks where the id goes; the reaper's Lua scripts receive these same templates. */
export const KeyTemplates = {
  session: "session:{}",
  userSessions: "user:{}:sessions",
  heartbeat: "heartbeat:{}",
  regionMembers: "region:{}:members",
  nodeAlive: "presence:node:{}:alive",
  nodeSockets: "presence:node:{}:sockets",
} as const;

const fill = (template: string, id: string): string => template.replace("{}", id);

export const Keys = {
  session: (socketId: string) => fill(KeyTemplates.session, socketId),
  userSessions: (userId: string) => fill(KeyTemplates.userSessions, userId),
  heartbeat: (socketId: string) => fill(KeyTemplates.heartbeat, socketId),
  regionMembers: (regionId: string) => fill(KeyTemplates.regionMembers, regionId),
  nodeAlive: (nodeId: string) => fill(KeyTemplates.nodeAlive, nodeId),
  nodeSockets: (nodeId: string) => fill(KeyTemplates.nodeSockets, nodeId),
  nodes: "presence:nodes",
  nodeStatus: (nodeId: string) => `presence:node:${nodeId}:status`,
  reaperLock: "presence:reaper:lock",
  presencePushed: (regionId: string) => `presence:pushed:${regionId}`,
  hazardGeo: (region: string, type: string) => `hazards:geo:${region}:${type}`,
  hazardSeen: (region: string, type: string) => `hazards:seen:${region}:${type}`,
  hazardPasses: (hazardId: string) => `hazards:passes:${hazardId}`,
  foldLock: "roads:fold:lock",
  loginFailures: (emailHash: string) => `auth:login:failures:${emailHash}`,
  refreshSession: (sessionId: string) => `auth:refresh:${sessionId}`,
} as const;

/** TTLs in seconds, from the configuration. */
export interface PresenceTtls {
  session: number;
  heartbeat: number;
  nodeLiveness: number;
}
