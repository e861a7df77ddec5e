import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Recorder } from "../metrics/recorder.js";
import { Device } from "./device.js";
import { RandomDrive } from "./drive.js";
import type { WorkerMessage, WorkerPlan, WorkerStop, WorkerToken } from "./messages.js";
import { SharedToken } from "./tokens.js";

/**
 * One generator process: runs its share of the fleet and reports metric deltas to the coordinator
 * (its parent, over IPC). Several of them spread the fleet over cores, so the generator is never
 * what limits the measurement; each one reports its own CPU and event-loop delay to prove it.
 */
const metrics = new Recorder();
const devices: Device[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });
let plan: WorkerPlan | undefined;
/** Each account's current access token, renewed by the coordinator's TokenKeeper; read by its devices. */
let tokens: SharedToken[] = [];
let pendingIds: string[] = [];
let reporter: NodeJS.Timeout | undefined;

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function flushIds(): void {
  if (!plan?.ackedIdsFile || pendingIds.length === 0) return;
  appendFileSync(plan.ackedIdsFile, `${pendingIds.join("\n")}\n`);
  pendingIds = [];
}

function report(): void {
  if (!plan) return;
  flushIds();
  metrics.gauge("devices.connected", devices.filter((d) => d.connected).length);
  metrics.gauge(
    "obs.queued_batches",
    devices.reduce((sum, d) => sum + d.queued, 0),
  );
  metrics.gauge(
    "obs.inflight_batches",
    devices.reduce((sum, d) => sum + d.inflight, 0),
  );
  const cpu = process.cpuUsage();
  send({
    type: "report",
    worker: plan.worker,
    delta: metrics.drain(),
    self: {
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBytes: process.memoryUsage.rss(),
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
    },
  });
  loop.reset();
}

function start(message: WorkerPlan): void {
  plan = message;
  tokens = message.tokens.map((token) => new SharedToken(token));
  loop.enable();
  const onAcked = message.ackedIdsFile ? (ids: string[]) => pendingIds.push(...ids) : undefined;
  for (const spec of message.devices) {
    const device = new Device(
      { ...message.settings, deviceId: spec.deviceId, session: tokens[spec.account] as SharedToken },
      new RandomDrive(message.area, message.eventRate),
      metrics,
      onAcked,
    );
    devices.push(device);
    setTimeout(() => void device.start(), spec.startDelayMs).unref();
  }
  reporter = setInterval(report, message.reportMs);
}

async function stop(message: WorkerStop): Promise<void> {
  const results = await Promise.all(devices.map((device) => device.stop(message.graceMs)));
  if (reporter) clearInterval(reporter);
  report();
  flushIds();
  send({ type: "done", worker: plan?.worker ?? -1, unsent: results.reduce((sum, r) => sum + r.unsent, 0) });
  // Let the IPC message leave before exiting.
  setTimeout(() => process.exit(0), 200);
}

process.on("message", (message: WorkerPlan | WorkerToken | WorkerStop) => {
  if (message.type === "start") start(message);
  else if (message.type === "token") tokens[message.account]?.set(message.token);
  else if (message.type === "stop") void stop(message);
});
// The coordinator went away (Ctrl-C): nothing left to report to.
process.on("disconnect", () => process.exit(0));
