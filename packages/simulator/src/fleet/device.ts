import { ClientEvents, type Observation, ServerEvents } from "@roadpulse/protocol";
import { io, type Socket } from "socket.io-client";
import type { Recorder } from "../metrics/recorder.js";
import type { FleetOptions } from "../options.js";
import type { ObservationSource } from "./drive.js";

/** One device: who it is and where it connects, with the fleet's rates and windows. */
export type DeviceSettings = Pick<
  FleetOptions,
  | "url"
  | "localAddress"
  | "transport"
  | "locationIntervalMs"
  | "batchIntervalMs"
  | "batchSize"
  | "heartbeatIntervalMs"
  | "maxInflight"
  | "maxQueued"
  | "ackTimeoutMs"
> & {
  /** The account's current access token, read at every (re)connection (TokenKeeper renews it). */
  token: () => string;
  deviceId: string;
};

interface Batch {
  observations: Observation[];
  attempts: number;
}

type AckBody = {
  ok: boolean;
  accepted?: number;
  duplicates?: number;
  rejected?: Array<{ id: string; code: string }>;
  error?: { code: string };
};

/** Errors after which the app keeps the batch and sends it again later (nothing was stored). */
const RETRYABLE = new Set(["STORAGE_UNAVAILABLE", "SHUTTING_DOWN", "RATE_LIMITED", "INTERNAL"]);

/**
 * One phone, behaving like the app: connects with its token and stable device id (reconnecting on
 * its own), sends its location and heartbeats, queues an observation batch every interval and keeps
 * at most `maxInflight` of them unacknowledged. A batch whose ack does not come (timeout or
 * disconnection) goes back to the front of the queue and is sent again with the same ids once the
 * socket is up, so the server can count it as a duplicate instead of storing it twice.
 */
export class Device {
  readonly socket: Socket;
  #queue: Batch[] = [];
  #inflight = new Set<Batch>();
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;
  #everConnected = false;
  #connectStartedAt = performance.now();

  constructor(
    readonly settings: DeviceSettings,
    private readonly source: ObservationSource,
    private readonly metrics: Recorder,
    private readonly onAcked?: (ids: string[]) => void,
  ) {
    this.socket = io(settings.url, {
      auth: (send) => send({ token: settings.token() }),
      query: { deviceId: settings.deviceId },
      transports: [settings.transport],
      // Reaches the websocket's TCP connection (not long-polling's: options.ts refuses that pair).
      ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      randomizationFactor: 0.5,
      timeout: 20_000,
      autoConnect: false,
    });
    this.#listen();
  }

  get queued(): number {
    return this.#queue.length;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** A scripted drive is over and every batch of it has been acknowledged. */
  get drained(): boolean {
    return this.source.finished && this.#queue.length === 0 && this.#inflight.size === 0;
  }

  start(): void {
    this.metrics.count("connect.attempts");
    this.#connectStartedAt = performance.now();
    this.socket.connect();
    const every = (ms: number, fn: () => void) => {
      if (ms === 0) return; // switched off
      // A random phase, so a thousand devices started together do not tick together.
      const first = setTimeout(() => {
        fn();
        this.#timers.push(setInterval(fn, ms));
      }, Math.random() * ms);
      this.#timers.push(first);
    };
    every(this.settings.locationIntervalMs, () => this.#sendLocation());
    every(this.settings.heartbeatIntervalMs, () => this.#simple("heartbeat", ClientEvents.Heartbeat, {}));
    every(this.settings.batchIntervalMs, () => this.#queueBatch());
  }

  /** Stops producing; waits until nothing is in flight (or `graceMs`), then disconnects. */
  async stop(graceMs: number): Promise<{ unsent: number }> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    const deadline = Date.now() + graceMs;
    while ((this.#inflight.size > 0 || (this.#queue.length > 0 && this.socket.connected)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Whatever is still queued or unanswered now is reported as unsent, not as an interruption.
    this.#stopping = true;
    const unsent = [...this.#queue, ...this.#inflight].reduce((sum, batch) => sum + batch.observations.length, 0);
    this.socket.disconnect();
    return { unsent };
  }

  #listen(): void {
    const { socket, metrics } = this;
    socket.on("connect", () => {
      if (this.#everConnected) {
        metrics.count("reconnects");
      } else {
        this.#everConnected = true;
        metrics.record("connect.time", performance.now() - this.#connectStartedAt);
      }
      metrics.count("connect.ok");
      this.#sendLocation();
      this.#pump();
    });
    socket.on("connect_error", (error: Error & { data?: { code?: string } }) => {
      metrics.count("connect.failures");
      metrics.count(`connect.failure.${error.data?.code ?? "transport"}`);
    });
    socket.on("disconnect", (reason) => {
      if (this.#stopping) return;
      metrics.count("disconnects");
      metrics.count(`disconnect.${reason.replace(/\s+/g, "_")}`);
    });
    socket.on(ServerEvents.SegmentUpdated, (segment: { lastObservedAt?: string | null }) => {
      metrics.count("push.segment");
      if (segment.lastObservedAt) metrics.record("push.segment.lag", Date.now() - Date.parse(segment.lastObservedAt));
    });
    socket.on(ServerEvents.HazardUpdated, (hazard: { lastSeenAt?: string }) => {
      metrics.count("push.hazard");
      if (hazard.lastSeenAt) metrics.record("push.hazard.lag", Date.now() - Date.parse(hazard.lastSeenAt));
    });
    socket.on(ServerEvents.PresenceUpdated, () => metrics.count("push.presence"));
  }

  #sendLocation(): void {
    const { latitude, longitude, speed, heading } = this.source.position();
    this.#simple("location", ClientEvents.LocationUpdate, {
      latitude,
      longitude,
      speed,
      heading,
      accuracy: 5,
      recordedAt: new Date().toISOString(),
    });
  }

  /** Location and heartbeat: fire-and-measure; a phone offline simply skips them. */
  #simple(name: string, event: string, payload: object): void {
    if (!this.socket.connected) return;
    const started = performance.now();
    this.metrics.count(`${name}.sent`);
    this.socket.timeout(this.settings.ackTimeoutMs).emit(event, payload, (error: Error | null, ack: AckBody) => {
      if (this.#stopping) return;
      if (error) {
        this.metrics.count(this.socket.connected ? `${name}.timeouts` : `${name}.interrupted`);
        return;
      }
      this.metrics.record(`${name}.ack`, performance.now() - started);
      if (ack?.ok) this.metrics.count(`${name}.acked`);
      else this.#ackError(name, ack);
    });
  }

  #ackError(name: string, ack: AckBody | undefined): void {
    this.metrics.count(`${name}.errors`);
    this.metrics.count(`${name}.error.${ack?.error?.code ?? "MALFORMED"}`);
  }

  #queueBatch(): void {
    if (this.source.finished) return;
    const observations = this.source.take(this.settings.batchSize);
    if (observations.length === 0) return;
    this.#queue.push({ observations, attempts: 0 });
    while (this.#queue.length > this.settings.maxQueued) {
      const dropped = this.#queue.shift();
      this.metrics.count("obs.dropped", dropped?.observations.length ?? 0);
    }
    this.#pump();
  }

  #pump(): void {
    while (this.socket.connected && this.#inflight.size < this.settings.maxInflight && this.#queue.length > 0) {
      const batch = this.#queue.shift() as Batch;
      this.#send(batch);
    }
  }

  #send(batch: Batch): void {
    const { metrics } = this;
    const size = batch.observations.length;
    this.#inflight.add(batch);
    metrics.count("obs.sent");
    metrics.count("obs.items", size);
    if (batch.attempts > 0) metrics.count("obs.resent");
    batch.attempts += 1;
    const started = performance.now();
    const payload = { observations: batch.observations };
    this.socket
      .timeout(this.settings.ackTimeoutMs)
      .emit(ClientEvents.ObservationsSubmit, payload, (error: Error | null, ack: AckBody) => {
        this.#inflight.delete(batch);
        if (this.#stopping) return;
        if (error) {
          // No answer: keep the batch, same ids, at the front of the queue.
          metrics.count(this.socket.connected ? "obs.timeouts" : "obs.interrupted");
          this.#queue.unshift(batch);
        } else {
          metrics.record("obs.ack", performance.now() - started);
          if (ack?.ok) this.#acked(batch, ack);
          else {
            this.#ackError("obs", ack);
            if (RETRYABLE.has(ack?.error?.code ?? "")) this.#queue.unshift(batch);
          }
        }
        this.#pump();
      });
  }

  #acked(batch: Batch, ack: AckBody): void {
    const { metrics } = this;
    const accepted = ack.accepted ?? 0;
    const duplicates = ack.duplicates ?? 0;
    const rejected = ack.rejected ?? [];
    metrics.count("obs.acked");
    metrics.count("obs.accepted", accepted);
    metrics.count("obs.duplicates", duplicates);
    metrics.count("obs.rejected", rejected.length);
    // Every item must be accounted for exactly once; anything else is an ack that cannot be trusted.
    if (accepted + duplicates + rejected.length !== batch.observations.length) metrics.count("obs.false_acks");
    if (this.onAcked) {
      const refused = new Set(rejected.map((item) => item.id));
      this.onAcked(batch.observations.filter((o) => !refused.has(o.id)).map((o) => o.id));
    }
  }
}
