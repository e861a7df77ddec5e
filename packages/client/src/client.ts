import {
  type Ack,
  ClientEvents,
  type HazardSummary,
  type LocationUpdate,
  MAX_OBSERVATION_BATCH,
  type Observation,
  type ObservationAck,
  type RegionSyncAck,
  type SegmentSummary,
  ServerEvents,
} from "@roadpulse/protocol";
import { io, type Socket } from "socket.io-client";
import { RoadPulseError } from "./errors.js";
import type { CallReport, ClientEventMap, ClientOptions } from "./options.js";
import { OfflineQueue, type QueuedBatch } from "./queue.js";

export type { CallReport, ClientEventMap, ClientOptions, SocketSettings, TokenSource } from "./options.js";

type Listener<K extends keyof ClientEventMap> = (payload: ClientEventMap[K]) => void;

/** A failed catch-up waits this long before the next try (with a later location), doubling to the max. */
const CATCH_UP_RETRY_MIN_MS = 5_000;
const CATCH_UP_RETRY_MAX_MS = 5 * 60_000;

/**
 * A device's or dashboard's connection to RoadPulse. Observation batches go through an offline
 * queue: `submit` stores the batch and returns; the client sends it whenever it is connected, keeps
 * it until its ack says it is durable, and resends it with the same observation ids after a
 * disconnect, a timeout or a restart of the app, so each observation is stored exactly once. After
 * every reconnect it catches up on what changed around it (`region:sync`) and hands the changes to
 * the same listeners as live updates.
 */
export class RoadPulseClient {
  /**
   * The socket.io-client socket underneath, for what the SDK does not wrap (listening to raw
   * events, say). Sending on it directly bypasses the queue, the timeouts and `call:settled`.
   */
  readonly socket: Socket;
  readonly #queue: OfflineQueue;
  readonly #ackTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #listeners = new Map<keyof ClientEventMap, Set<(payload: never) => void>>();
  /** Newest `updatedAt` seen: where the next catch-up starts. */
  #cursor: string | null = null;
  #everConnected = false;
  #syncDue = false;
  /** A catch-up that failed is not tried again before this (performance.now()), backing off. */
  #syncNotBefore = 0;
  #syncBackoffMs = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelayMs = 500;
  #closed = false;

  private constructor(private readonly options: ClientOptions) {
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.#maxInFlight = options.maxInFlight ?? 3;
    this.#queue = new OfflineQueue(options.storage, options.maxQueuedBatches ?? 10_000);
    const socket = options.socket ?? {};
    this.socket = io(options.url, {
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      ...socket,
      // Read at every (re)connection: a refreshed token is used from the next one on.
      auth: (send) => send({ token: options.session.token }),
      query: { ...socket.query, deviceId: options.deviceId },
      autoConnect: false,
    });
    this.#wire();
  }

  /** Opens the queue left by an earlier run, then connects. */
  static async connect(options: ClientOptions): Promise<RoadPulseClient> {
    const client = new RoadPulseClient(options);
    await client.#queue.open();
    client.socket.connect();
    return client;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Batches waiting for their ack (queued or in flight). */
  get queued(): number {
    return this.#queue.size;
  }

  /** Batches sent and not yet answered (part of `queued`). */
  get inFlight(): number {
    return this.#queue.sending;
  }

  on<K extends keyof ClientEventMap>(event: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Sends the device's position; resolves with its region. Not queued: a stale position is worthless. */
  async location(update: LocationUpdate): Promise<{ regionId: string | null }> {
    const answer = await this.#call<{ regionId: string | null }>(ClientEvents.LocationUpdate, update);
    if (this.#syncDue && answer.regionId !== null && performance.now() >= this.#syncNotBefore) void this.#catchUp();
    return answer;
  }

  async heartbeat(): Promise<{ serverTime: string }> {
    return await this.#call(ClientEvents.Heartbeat, {});
  }

  async voteHazard(hazardId: string, stillThere: boolean): Promise<HazardSummary> {
    return (await this.#call<{ hazard: HazardSummary }>(ClientEvents.HazardVote, { hazardId, stillThere })).hazard;
  }

  /**
   * Queues observations (ids are generated for those without one), split into batches of at most
   * 500; resolves once they are stored in the queue, not when the server has them (`batch:settled`).
   * Observations that have an id are queued as given, not copied: do not change them afterwards.
   */
  async submit(observations: Array<Omit<Observation, "id"> & { id?: string }>): Promise<void> {
    const withIds = observations.map((o) =>
      o.id === undefined ? ({ ...o, id: globalThis.crypto.randomUUID() } as Observation) : (o as Observation),
    );
    for (let i = 0; i < withIds.length; i += MAX_OBSERVATION_BATCH) {
      await this.#queue.add(withIds.slice(i, i + MAX_OBSERVATION_BATCH));
    }
    this.#pump();
  }

  /** Disconnects and stops; what is queued stays in the storage for the next start. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.socket.close();
  }

  #wire(): void {
    this.socket.on("connect", () => {
      this.#retryDelayMs = 500;
      const recovered = this.#everConnected;
      this.#everConnected = true;
      // A device back from an absence catches up once it is in its region (after its next location).
      if (recovered && this.#cursor !== null) this.#syncDue = true;
      this.#emit("connected", { recovered });
      // The first connection starts the cursor at the server's clock: changes from then on count.
      if (this.#cursor === null) {
        this.heartbeat().then(
          (beat) => this.#advance(beat.serverTime),
          () => undefined,
        );
      }
      this.#pump();
    });
    this.socket.on("disconnect", (reason) => {
      this.#queue.releaseAll();
      this.#emit("disconnected", { reason });
    });
    this.socket.on("connect_error", (error: Error & { data?: { code: string; message: string } }) => {
      if (error.data === undefined) return; // the network: socket.io-client retries by itself
      void this.#refused(new RoadPulseError(error.data.code, error.data.message));
    });
    this.socket.on(ServerEvents.SegmentUpdated, (segment: SegmentSummary) => {
      this.#advance(segment.updatedAt);
      this.#emit("segment:updated", segment);
    });
    this.socket.on(ServerEvents.HazardUpdated, (hazard: HazardSummary) => {
      this.#advance(hazard.updatedAt);
      this.#emit("hazard:updated", hazard);
    });
    this.socket.on(ServerEvents.PresenceUpdated, (presence: ClientEventMap["presence:updated"]) =>
      this.#emit("presence:updated", presence),
    );
  }

  /**
   * A refused handshake: socket.io-client does not try again by itself. An expired or revoked
   * access token is renewed first; a busy server is given time; anything else is the app's to see.
   */
  async #refused(error: RoadPulseError): Promise<void> {
    if (this.#closed) return;
    if (error.code === "UNAUTHORIZED") {
      try {
        await this.options.session.refresh();
      } catch (refreshError) {
        this.#emit("error", refreshError instanceof RoadPulseError ? refreshError : error);
        return;
      }
    } else if (!error.retryable) {
      this.#emit("error", error);
      return;
    }
    this.#retryTimer = setTimeout(() => {
      if (!this.#closed && !this.socket.connected) this.socket.connect();
    }, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 30_000);
  }

  /** Sends queued batches while connected, up to `maxInFlight` at once. */
  #pump(): void {
    if (!this.socket.connected || this.#closed) return;
    for (const { batch, attempt, sends } of this.#queue.take(this.#maxInFlight - this.#queue.sending)) {
      void this.#send(batch, attempt, sends);
    }
  }

  async #send(batch: QueuedBatch, attempt: number, sends: number): Promise<void> {
    let outcome: { ack?: ObservationAck; error?: RoadPulseError };
    try {
      const payload = { observations: batch.observations };
      outcome = { ack: await this.#call<ObservationAck>(ClientEvents.ObservationsSubmit, payload, sends, batch) };
    } catch (error) {
      const failure = error instanceof RoadPulseError ? error : new RoadPulseError("INTERNAL", String(error));
      if (failure.retryable) {
        // Kept, ids unchanged: sent again after a pause (at once after a timeout or a reconnect).
        this.#queue.release(batch, attempt);
        setTimeout(() => this.#pump(), failure.code === "ACK_TIMEOUT" || failure.code === "NETWORK" ? 0 : 1_000);
        return;
      }
      // Refused as a whole (malformed): sending it again would be refused again.
      outcome = { error: failure };
    }
    if (await this.#queue.done(batch)) {
      this.#emit("batch:settled", { observations: batch.observations.length, ...outcome, batch });
    }
    this.#pump();
  }

  async #catchUp(): Promise<void> {
    this.#syncDue = false;
    const since = this.#cursor;
    if (since === null) return;
    try {
      const answer = await this.#call<RegionSyncAck>(ClientEvents.RegionSync, { since });
      for (const segment of answer.segments) this.#emit("segment:updated", segment);
      for (const hazard of answer.hazards) this.#emit("hazard:updated", hazard);
      this.#advance(answer.until);
      this.#syncBackoffMs = 0;
      this.#syncNotBefore = 0;
      if (!answer.complete) this.#emit("catch-up:incomplete", { regionId: answer.regionId });
    } catch {
      // Tried again with a later location, backing off: a fleet that came back together must not
      // ask a struggling store for every device's catch-up at every location.
      this.#syncDue = true;
      this.#syncBackoffMs = Math.min(Math.max(this.#syncBackoffMs * 2, CATCH_UP_RETRY_MIN_MS), CATCH_UP_RETRY_MAX_MS);
      this.#syncNotBefore = performance.now() + this.#syncBackoffMs * (0.5 + Math.random() / 2);
    }
  }

  #advance(updatedAt: string): void {
    if (this.#cursor === null || updatedAt > this.#cursor) this.#cursor = updatedAt;
  }

  /**
   * One acknowledged event: its answer, or a RoadPulseError (the server's code, ACK_TIMEOUT, or
   * NETWORK when the connection was lost before the answer). Each attempt is reported to
   * `call:settled` listeners.
   */
  async #call<T extends object>(event: string, payload: unknown, attempt = 1, batch?: QueuedBatch): Promise<T> {
    // Not queued by the socket while offline: a late location or vote is worse than a clear error.
    if (!this.socket.connected) throw new RoadPulseError("NETWORK", `${event}: not connected`);
    const started = performance.now();
    let answer: Ack<T>;
    try {
      answer = (await this.socket.timeout(this.#ackTimeoutMs).emitWithAck(event, payload)) as Ack<T>;
    } catch {
      // socket.io-client fails pending acks at once when the connection drops: not a timeout.
      const error = this.socket.connected
        ? new RoadPulseError("ACK_TIMEOUT", `${event}: no answer within ${this.#ackTimeoutMs} ms`)
        : new RoadPulseError("NETWORK", `${event}: the connection was lost before the answer`);
      this.#report(event, attempt, started, error.code === "NETWORK" ? "interrupted" : "timeout", error, batch);
      throw error;
    }
    if (!answer.ok) {
      const error = new RoadPulseError(answer.error.code, answer.error.message);
      this.#report(event, attempt, started, "refused", error, batch);
      throw error;
    }
    this.#report(event, attempt, started, "ok", undefined, batch);
    return answer;
  }

  #report(
    event: string,
    attempt: number,
    started: number,
    outcome: CallReport["outcome"],
    error: RoadPulseError | undefined,
    batch: QueuedBatch | undefined,
  ): void {
    // Built only when someone listens: a fleet of clients in one process sends a lot of events.
    if (!this.#listeners.get("call:settled")?.size) return;
    const report: CallReport = { event, attempt, ms: performance.now() - started, outcome };
    if (error !== undefined) report.error = error;
    if (batch !== undefined) report.batch = batch;
    this.#emit("call:settled", report);
  }

  #emit<K extends keyof ClientEventMap>(event: K, payload: ClientEventMap[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) (listener as Listener<K>)(payload);
  }
}
