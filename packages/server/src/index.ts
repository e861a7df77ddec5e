export { type Config, ConfigError, loadConfig } from "./config.js";
export { type RunningNode, startNode } from "./node.js";
export { regionRoom } from "./realtime/rooms.js";
export { apiRoutes, realtimeFeatures } from "./routes.js";
