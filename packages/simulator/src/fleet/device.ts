import { type CallReport, RoadPulseClient, type TokenSource } from "@roadpulse/client";
import { type Observation, type ObservationAck, ServerEvents } from "@roadpulse/protocol";
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
  /** The account's access token, shared by the account's devices (TokenKeeper renews it). */
  session: TokenSource;
  deviceId: string;
};

/** Metric names of an acknowledged event (`obs.ack`, `location.timeouts`…), built once, not per call. */
function metricNames(prefix: string) {
  const names = ["sent", "ack", "acked", "errors", "timeouts", "interrupted"] as const;
  return {
    ...(Object.fromEntries(names.map((n) => [n, `${prefix}.${n}`])) as Record<(typeof names)[number], string>),
    error: `${prefix}.error.`,
  };
}
const METRIC = new Map(
  Object.entries({
    "observations:submit": "obs",
    "location:update": "location",
    heartbeat: "heartbeat",
    "region:sync": "sync",
    "hazard:vote": "vote",
  }).map(([event, prefix]) => [event, metricNames(prefix)]),
);

const ignore = () => {};

/**
 * One phone: the app's SDK (`@roadpulse/client`) with the app's habits. It connects with its
 * account's token and its own device id, sends its location at once on each connection and then
 * every interval, a heartbeat, and an observation batch every interval into the SDK's offline
 * queue, which keeps at most `maxInflight` batches unacknowledged and resends a batch with the same
 * ids after a timeout or a disconnection. Every attempt the SDK reports (`call:settled`) and every
 * push becomes a metric.
 */
export class Device {
  #client: RoadPulseClient | undefined;
  #timers: NodeJS.Timeout[] = [];
  /** Stop was called: a device still connecting then closes at once. */
  #stopped = false;
  /** The run is over: what is still answered no longer counts. */
  #stopping = false;
  #connectStartedAt = performance.now();
  /** Observations queued and not settled yet: what is left unsent when the run stops. */
  #pending = 0;

  constructor(
    readonly settings: DeviceSettings,
    private readonly source: ObservationSource,
    private readonly metrics: Recorder,
    private readonly onAcked?: (ids: string[]) => void,
  ) {}

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Batches waiting to be sent (not in flight). */
  get queued(): number {
    return this.#client ? this.#client.queued - this.#client.inFlight : 0;
  }

  get inflight(): number {
    return this.#client?.inFlight ?? 0;
  }

  /** A scripted drive is over and every batch of it has been settled. */
  get drained(): boolean {
    return this.source.finished && (this.#client?.queued ?? 0) === 0;
  }

  async start(): Promise<void> {
    const { settings } = this;
    this.metrics.count("connect.attempts");
    this.#connectStartedAt = performance.now();
    const client = await RoadPulseClient.connect({
      url: settings.url,
      session: settings.session,
      deviceId: settings.deviceId,
      ackTimeoutMs: settings.ackTimeoutMs,
      maxInFlight: settings.maxInflight,
      maxQueuedBatches: settings.maxQueued,
      socket: {
        transports: [settings.transport],
        // Reaches the websocket's TCP connection (not long-polling's: options.ts refuses that pair).
        ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
        randomizationFactor: 0.5,
        timeout: 20_000,
      },
    });
    if (this.#stopped) {
      client.close();
      return;
    }
    this.#client = client;
    this.#listen(client);
    const every = (ms: number, fn: () => void) => {
      if (ms === 0) return; // switched off
      // A random phase, so a thousand devices started together do not tick together.
      const first = setTimeout(() => {
        fn();
        this.#timers.push(setInterval(fn, ms));
      }, Math.random() * ms);
      this.#timers.push(first);
    };
    every(settings.locationIntervalMs, () => this.#sendLocation());
    every(settings.heartbeatIntervalMs, () => {
      if (client.connected) client.heartbeat().catch(ignore);
    });
    every(settings.batchIntervalMs, () => this.#queueBatch());
  }

  /** Stops producing; waits until nothing is in flight (or `graceMs`), then disconnects. */
  async stop(graceMs: number): Promise<{ unsent: number }> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = [];
    const client = this.#client;
    const deadline = Date.now() + graceMs;
    while (client && (client.inFlight > 0 || (client.queued > 0 && client.connected)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Whatever is still queued or unanswered now is reported as unsent, not as an interruption.
    this.#stopping = true;
    client?.close();
    return { unsent: this.#pending };
  }

  #listen(client: RoadPulseClient): void {
    const { metrics } = this;
    client.on("connected", ({ recovered }) => {
      if (recovered) {
        metrics.count("reconnects");
      } else {
        metrics.record("connect.time", performance.now() - this.#connectStartedAt);
      }
      metrics.count("connect.ok");
      this.#sendLocation();
    });
    client.on("disconnected", ({ reason }) => {
      if (this.#stopping) return;
      metrics.count("disconnects");
      metrics.count(`disconnect.${reason.replace(/\s+/g, "_")}`);
    });
    client.on("call:settled", (report) => this.#settled(report));
    client.on("batch:settled", ({ observations, ack, batch }) => {
      this.#pending -= observations;
      if (ack !== undefined && !this.#stopping) this.#acked(batch.observations, ack);
    });
    // Raw socket events: every failed handshake (the SDK surfaces only those it gives up on), and
    // live pushes only: catch-up replays come through the SDK's listeners, and their age is not a lag.
    const { socket } = client;
    socket.on("connect_error", (error: Error & { data?: { code?: string } }) => {
      metrics.count("connect.failures");
      metrics.count(`connect.failure.${error.data?.code ?? "transport"}`);
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

  /** One attempt of an acknowledged event, as the SDK reports it. */
  #settled(report: CallReport): void {
    const { metrics } = this;
    const names = METRIC.get(report.event) ?? metricNames(report.event);
    metrics.count(names.sent);
    if (report.batch !== undefined) {
      metrics.count("obs.items", report.batch.observations.length);
      if (report.attempt > 1) metrics.count("obs.resent");
    }
    if (this.#stopping) return;
    switch (report.outcome) {
      case "ok":
        metrics.record(names.ack, report.ms);
        metrics.count(names.acked);
        break;
      case "refused":
        metrics.record(names.ack, report.ms);
        metrics.count(names.errors);
        metrics.count(`${names.error}${report.error?.code ?? "MALFORMED"}`);
        break;
      case "timeout":
        metrics.count(names.timeouts);
        break;
      case "interrupted":
        metrics.count(names.interrupted);
        break;
    }
  }

  #sendLocation(): void {
    const client = this.#client;
    // A phone offline simply skips it.
    if (!client?.connected) return;
    const { latitude, longitude, speed, heading } = this.source.position();
    const recordedAt = new Date().toISOString();
    client.location({ latitude, longitude, speed, heading, accuracy: 5, recordedAt }).catch(ignore);
  }

  #queueBatch(): void {
    const client = this.#client;
    if (client === undefined || this.source.finished) return;
    const observations = this.source.take(this.settings.batchSize);
    if (observations.length === 0) return;
    this.#pending += observations.length;
    client.submit(observations).catch(() => {
      // QUEUE_FULL: the SDK keeps what it has and refuses the newest batch.
      this.#pending -= observations.length;
      this.metrics.count("obs.dropped", observations.length);
    });
  }

  #acked(observations: readonly Observation[], ack: ObservationAck): void {
    const { metrics } = this;
    // Read defensively: a malformed ack must show up as a false ack, not as an exception.
    const accepted = ack.accepted ?? 0;
    const duplicates = ack.duplicates ?? 0;
    const rejected = ack.rejected ?? [];
    metrics.count("obs.accepted", accepted);
    metrics.count("obs.duplicates", duplicates);
    metrics.count("obs.rejected", rejected.length);
    // Every item must be accounted for exactly once; anything else is an ack that cannot be trusted.
    if (accepted + duplicates + rejected.length !== observations.length) metrics.count("obs.false_acks");
    if (this.onAcked) {
      const refused = new Set(rejected.map((item) => item.id));
      this.onAcked(observations.filter((o) => !refused.has(o.id)).map((o) => o.id));
    }
  }
}
