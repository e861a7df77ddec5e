import type { AppError } from "../errors.js";
import type { AppSocket } from "./types.js";

/**
 * One feature's Socket.IO handlers (presence/socket.ts, roads/socket.ts), built by node.ts with the
 * services they call. Each registers its own event handlers on every authenticated socket, before
 * any client event is read.
 */
export interface SocketHandlers {
  name: string;
  /**
   * Runs once the handshake authenticated the socket and before it connects: the error refuses it
   * (the client gets `connect_error` with `{code, message}` in `err.data`).
   */
  admit?(socket: AppSocket): Promise<AppError | null>;
  attach(socket: AppSocket): void;
}
