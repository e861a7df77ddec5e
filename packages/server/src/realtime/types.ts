import type { DefaultEventsMap, Server, Socket } from "socket.io";
import type { Role } from "../auth/tokens.js";
import type { EventBudget } from "./event-budget.js";

/** What the handshake established about a connection; read by every handler. */
export interface SocketData {
  userId: string;
  role: Role;
  deviceId: string;
  userAgent: string;
  connectedAt: string;
  /** What the connection may still send (realtime/event-budget.ts); set before any handler runs. */
  budget: EventBudget;
}

export type AppServer = Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;
export type AppSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;
