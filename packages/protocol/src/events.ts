/**
 * Socket.IO event names (namespace `/`). The single list every party imports, so a rename is a
 * compile error everywhere instead of a silently dropped message.
 */
export const ClientEvents = {
  LocationUpdate: "location:update",
  Heartbeat: "heartbeat",
  ObservationsSubmit: "observations:submit",
  HazardVote: "hazard:vote",
  RegionSync: "region:sync",
  /** Observers only: the area an ops map shows (protocol/ops.ts). */
  OpsWatch: "ops:watch",
} as const;

export const ServerEvents = {
  SegmentUpdated: "segment:updated",
  HazardUpdated: "hazard:updated",
  PresenceUpdated: "presence:updated",
  /** To watching observers, every few seconds: the nodes and their health. */
  OpsNodes: "ops:nodes",
} as const;

export type ClientEventName = (typeof ClientEvents)[keyof typeof ClientEvents];
export type ServerEventName = (typeof ServerEvents)[keyof typeof ServerEvents];
