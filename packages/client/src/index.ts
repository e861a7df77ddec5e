export {
  type CallReport,
  type ClientEventMap,
  type ClientOptions,
  RoadPulseClient,
  type SocketSettings,
  type TokenSource,
} from "./client.js";
export { RoadPulseError } from "./errors.js";
export { MemoryStorage, type QueuedBatch, type QueueStorage } from "./queue.js";
export { type Account, LoginSession, type Tokens } from "./session.js";
