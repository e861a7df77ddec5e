export { type Config, ConfigError, loadConfig } from "./config.js";
export { type RunningNode, startNode } from "./node.js";
export { Keys } from "./presence/keys.js";
export { RedisPresenceStore } from "./presence/redis-store.js";
export { applyLocation, newSession, regionOf, type Session } from "./presence/session.js";
export { regionRoom } from "./realtime/rooms.js";
export { type FoldWrite, writeFoldsReturning } from "./store/folds.js";
