import type { AppSocket } from "./types.js";

/**
 * One feature's Socket.IO handlers (presence/socket.ts, roads/socket.ts), built by node.ts with the
 * services they call. Each registers its own event handlers on every authenticated socket, before
 * any client event is read.
 */
export interface SocketHandlers {
  name: string;
  attach(socket: AppSocket): void;
}
