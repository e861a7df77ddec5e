import type { NodeContext } from "../context.js";
import type { AppSocket } from "./types.js";

/**
 * A slice of realtime behaviour (presence, ingest, hazards…). Each one registers its own event
 * handlers for an authenticated socket; the list lives in realtime/index.ts.
 */
export interface RealtimeFeature {
  name: string;
  /** Called for every authenticated connection, before any client event is read. */
  attach(socket: AppSocket, ctx: NodeContext): void;
  /** Called once when the node starts (timers, Redis subscriptions…); returns its own stopper. */
  start?(ctx: NodeContext): Promise<() => Promise<void>> | (() => Promise<void>);
}
