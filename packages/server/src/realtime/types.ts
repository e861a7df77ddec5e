import type { DefaultEventsMap, Server, Socket } from "socket.io";
import type { Role } from "../auth/tokens.js";

/** What the handshake established about a connection; read by every handler. */
export interface SocketData {
  userId: string;
  role: Role;
  deviceId: string;
  userAgent: string;
  connectedAt: string;
}

export type AppServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;
export type AppSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;
