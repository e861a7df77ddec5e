import type { HazardSummary, ObservationAck, SegmentSummary } from "@roadpulse/protocol";
import type { ManagerOptions, SocketOptions } from "socket.io-client";
import type { RoadPulseError } from "./errors.js";
import type { QueuedBatch, QueueStorage } from "./queue.js";

/**
 * Where a client gets the access token it presents at each (re)connection. `LoginSession` is one.
 * Several clients may share one source: the devices of one account in a test rig or a kiosk app,
 * with one holder of the refresh token (a refresh token works once).
 */
export interface TokenSource {
  /** The current access token, read at every (re)connection. */
  readonly token: string;
  /** Renews the token after a handshake was refused as UNAUTHORIZED; rejects when it cannot. */
  refresh(): Promise<void>;
}

/**
 * socket.io-client options for the connection: `transports` (default websocket only; add "polling"
 * behind proxies that refuse websockets), `reconnectionDelay` (500 ms), `reconnectionDelayMax`
 * (5 s), `randomizationFactor`, `timeout`… On Node.js, `localAddress` binds the websocket's TCP
 * connection to a local address. `auth`, `autoConnect` and the `deviceId` query are the client's.
 */
export type SocketSettings = Omit<Partial<ManagerOptions & SocketOptions>, "auth" | "autoConnect"> & {
  localAddress?: string;
};

export interface ClientOptions {
  /** The cluster's address (nginx, or one node). */
  url: string;
  /** The access token's source: a `LoginSession`, or any `TokenSource` shared by several clients. */
  session: TokenSource;
  /** This installation's id (`session.registerDevice()` once, then kept by the app). */
  deviceId: string;
  /**
   * Where unacknowledged batches are kept across restarts. Without one they live in the client's
   * memory only (nothing is copied on each change): they survive disconnects, not a restart.
   */
  storage?: QueueStorage;
  /** An ack later than this is a timeout: the event is retried (batches) or fails (the rest). */
  ackTimeoutMs?: number;
  /** Batches sent and not yet acknowledged, at most. */
  maxInFlight?: number;
  /** Batches kept while offline (in flight included), at most; past it `submit` refuses (`QUEUE_FULL`). */
  maxQueuedBatches?: number;
  /** Options of the underlying socket.io-client connection. */
  socket?: SocketSettings;
}

/**
 * One acknowledged event the client sent, once its attempt is over: for an app's own metrics
 * (latency, timeouts, resends). Events not sent because the client was offline are not reported.
 */
export interface CallReport {
  /** The event: `observations:submit`, `location:update`, `heartbeat`, `hazard:vote`, `region:sync`. */
  event: string;
  /** 1 for a first send; a queued batch sent again counts up (since this client started). */
  attempt: number;
  /** From sending to the answer, the timeout or the loss of the connection. */
  ms: number;
  /**
   * `ok`; `refused` (the server answered with an error: `error.code`); `timeout` (no answer within
   * `ackTimeoutMs`: `ACK_TIMEOUT`); `interrupted` (the connection was lost first: `NETWORK`).
   */
  outcome: "ok" | "refused" | "timeout" | "interrupted";
  error?: RoadPulseError;
  /** `observations:submit`: the batch sent (its observations keep their ids through resends). */
  batch?: QueuedBatch;
}

/** What a listener of the client gets, by event. */
export interface ClientEventMap {
  "segment:updated": SegmentSummary;
  "hazard:updated": HazardSummary;
  "presence:updated": { regionId: string; count: number };
  /** A queued batch was acknowledged (or refused for good: `error`); `batch` says which. */
  "batch:settled": { observations: number; ack?: ObservationAck; error?: RoadPulseError; batch: QueuedBatch };
  /** Every attempt of an acknowledged event, answered or not (see `CallReport`). */
  "call:settled": CallReport;
  /** More changed while away than a catch-up holds: read the area again over HTTP. */
  "catch-up:incomplete": { regionId: string };
  connected: { recovered: boolean };
  disconnected: { reason: string };
  /** The connection was refused (bad token that a refresh could not mend, unknown device, …). */
  error: RoadPulseError;
}
