import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, freemem, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { obtainSessions, registerDevices } from "../accounts.js";
import { type FileLimit, raiseFileLimit } from "../limits.js";
import { computeFigures, type FigureInputs } from "../metrics/figures.js";
import { Recorder } from "../metrics/recorder.js";
import { progressLine, summaryText } from "../metrics/summary.js";
import { checkNames, evaluate, parseThreshold, type ThresholdResult } from "../metrics/thresholds.js";
import type { FleetOptions } from "../options.js";
import { discoverCluster, explicitGroups, type ProcessGroup } from "../proc/discover.js";
import { environ } from "../proc/procfs.js";
import { type GroupSample, ProcSampler } from "../proc/sampler.js";
import { checkAckedIds } from "../store-check.js";
import { TokenKeeper } from "../token-keeper.js";
import type { WorkerMessage, WorkerPlan, WorkerReport } from "./messages.js";

const WORKER = fileURLToPath(new URL("./worker.js", import.meta.url));

export interface FleetResult {
  ok: boolean;
  figures: Record<string, number>;
  processes: GroupSample[];
  thresholds: ThresholdResult[];
  report: Record<string, unknown>;
}

export interface FleetHooks {
  log?: (line: string) => void;
  /** Called every second with the cluster's processes (soak checks growth there). */
  onSecond?: (elapsedS: number, processes: GroupSample[], groups: ProcessGroup[]) => void;
  /** Resolves to stop the run early (Ctrl-C, a soak check that failed). */
  stopSignal?: Promise<void>;
  extraReport?: () => Record<string, unknown>;
  /** More figures (soak's checks), named up front so thresholds on them are checked before the run. */
  extra?: {
    names: string[];
    figures: () => Promise<Record<string, number>>;
    summary: (f: Record<string, number>) => string;
  };
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    memoryGb: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeMemoryGb: Number((freemem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    node: process.version,
  };
}

/** The names thresholds may use: every figure a run reports. */
export function figureNames(): string[] {
  const empty: FigureInputs = {
    metrics: new Recorder(),
    atRampEnd: new Map(),
    steadySeconds: 0,
    wallSeconds: 0,
    devices: 0,
    processes: [],
    generator: { cpuSeconds: 0, loopP99MaxMs: 0, loopMaxMs: 0, rssBytes: 0, workers: 0 },
    unsent: 0,
    nodeRssAtStart: 0,
  };
  return Object.keys(computeFigures(empty));
}

/** `--procs`: none, the cluster found behind the URL (auto), or the given pids. */
function clusterProcesses(options: FleetOptions): { groups: ProcessGroup[]; note: string } {
  if (options.procs === "none") return { groups: [], note: "" };
  if (options.procs === "auto") return discoverCluster(options.url);
  return { groups: explicitGroups(options.procs), note: "" };
}

/** `--mongo-uri auto`: the store named in a local node's environment (what the node itself writes to). */
function storeUri(option: string | undefined, groups: ProcessGroup[], log: (line: string) => void): string | undefined {
  if (option !== "auto") return option;
  const node = groups.find((g) => g.role === "node");
  const uri = node ? environ(node.pid).MONGODB_URI : undefined;
  log(uri ? `store check: acked ids will be looked up in ${uri}` : "store check: no local node found, skipped");
  return uri;
}

const sleep = (ms: number, stop: Promise<void>) =>
  Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), stop]);

/**
 * `roadpulse-sim fleet`: registers (or logs in) the accounts, forks the generator workers, ramps the
 * devices up, lets them drive for the duration, stops them (waiting for acks in flight), then
 * reports. The coordinator itself holds no socket: it merges the workers' metrics, samples /proc
 * and prints.
 */
export async function runFleet(options: FleetOptions, hooks: FleetHooks = {}): Promise<FleetResult> {
  const log = hooks.log ?? ((line: string) => console.log(line));
  const thresholds = options.thresholds.map(parseThreshold);
  checkNames(thresholds, [...figureNames(), ...(hooks.extra?.names ?? [])]);
  const runId = `sim-${Date.now().toString(36)}-${randomBytes(2).toString("hex")}`;
  /** Where nginx sends account i's login (it hashes on `deviceId`); devices get issued ids below. */
  const routeKey = (i: number) => `${options.accountPrefix || runId}-d${i}`;

  const found = clusterProcesses(options);
  const clusterGroups = found.groups;
  if (options.procs !== "none") log(`cluster processes: ${found.note || clusterGroups.map((g) => g.name).join(" ")}`);
  const cluster = new ProcSampler(clusterGroups);
  const generator = new ProcSampler([{ name: "generator", role: "generator", pid: process.pid }]);
  // Memory before anything (the accounts' set-up included) touches the nodes; its own sampler, so
  // the CPU counted below starts with the devices.
  const nodeRssAtStart = new ProcSampler(clusterGroups)
    .sample()
    .filter((p) => p.role === "node")
    .reduce((s, p) => s + p.rssBytes, 0);

  const metrics = new Recorder();
  /**
   * What arrived since the last progress line: its p99s are the window's, so a line shows how the
   * run is doing now, not since its start (the final summary has the whole run's).
   */
  let recent = new Recorder();
  log(`${options.accounts} account(s) for ${options.devices} device(s) at ${options.url}…`);
  const target = { url: options.url, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
  const sessions = await obtainSessions(
    {
      ...target,
      accounts: options.accounts,
      prefix: options.accountPrefix,
      password: options.password,
      deviceIdOf: routeKey,
    },
    metrics,
  );
  const tokens = new TokenKeeper(target, sessions, metrics, (account, token) => {
    for (const child of workers) if (child.connected) child.send({ type: "token", account, token });
  });
  const deviceIds = await registerDevices(target, tokens.tokens, options.devices, metrics);

  const mongoUri = storeUri(options.mongoUri, clusterGroups, log);
  const idsDir = mongoUri ? mkdtempSync(join(tmpdir(), "roadpulse-sim-")) : undefined;
  const perWorker = Math.ceil(options.devices / options.workers);
  const limits: FileLimit[] = [];
  const workers: ChildProcess[] = [];
  const latest = new Map<number, WorkerReport>();
  let loopP99MaxMs = 0;
  let loopMaxMs = 0;
  const done = new Map<number, number>();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  for (let w = 0; w < options.workers; w++) {
    const child = fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    workers.push(child);
    if (child.pid) limits.push(raiseFileLimit(child.pid, perWorker * 2 + 128));
    child.on("message", (message: WorkerMessage) => {
      if (message.type === "report") {
        metrics.merge(message.delta);
        // Only read by progress lines: with --quiet nothing resets it, so nothing is kept.
        if (!options.quiet) recent.merge(message.delta);
        latest.set(message.worker, message);
        loopP99MaxMs = Math.max(loopP99MaxMs, message.self.loopP99Ms);
        loopMaxMs = Math.max(loopMaxMs, message.self.loopMaxMs);
      } else {
        done.set(message.worker, message.unsent);
        if (done.size === workers.length) allDone();
      }
    });
    child.on("exit", () => {
      if (!done.has(w)) done.set(w, 0);
      if (done.size === workers.length) allDone();
    });
  }
  for (const note of new Set(limits.map((l) => l.note))) log(note);
  const settings = {
    url: options.url,
    localAddress: options.localAddress,
    transport: options.transport,
    locationIntervalMs: options.locationIntervalMs,
    batchIntervalMs: options.batchIntervalMs,
    batchSize: options.batchSize,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    maxInflight: options.maxInflight,
    maxQueued: options.maxQueued,
    ackTimeoutMs: options.ackTimeoutMs,
  };
  workers.forEach((child, w) => {
    const devices = [];
    for (let i = w * perWorker; i < Math.min(options.devices, (w + 1) * perWorker); i++) {
      const startDelayMs = (i / options.devices) * options.rampMs;
      devices.push({ deviceId: deviceIds[i] as string, account: i % sessions.length, startDelayMs });
    }
    const plan: WorkerPlan = {
      type: "start",
      worker: w,
      tokens: tokens.tokens,
      devices,
      settings,
      area: options.area,
      eventRate: options.eventRate,
      reportMs: 1000,
      ...(idsDir ? { ackedIdsFile: join(idsDir, `acked-${w}.txt`) } : {}),
    };
    child.send(plan);
  });
  tokens.start();

  // CPU is counted from here, when the devices start: the accounts' set-up before (password
  // hashing on the nodes, deliberately slow) is not part of the fleet's cost.
  const first = cluster.sample();
  generator.sample();
  const started = performance.now();
  const elapsedS = () => (performance.now() - started) / 1000;
  let processes = first;
  let lastProgress = { at: elapsedS(), counters: new Map(metrics.counters) };
  const gauge = (name: string) => [...latest.values()].reduce((s, r) => s + (r.delta.gauges[name] ?? 0), 0);
  let steady = false;
  const peakNodeRss = new Map<string, number>();
  const sampler = setInterval(() => {
    processes = cluster.sample();
    // Memory is taken at its peak while the whole fleet is connected (after the ramp).
    for (const p of processes) if (steady) peakNodeRss.set(p.name, Math.max(peakNodeRss.get(p.name) ?? 0, p.rssBytes));
    hooks.onSecond?.(elapsedS(), processes, clusterGroups);
  }, 1000);
  const progress = setInterval(() => {
    if (options.quiet) return;
    const now = elapsedS();
    const span = now - lastProgress.at;
    const delta = (name: string) => (metrics.counter(name) - (lastProgress.counters.get(name) ?? 0)) / span;
    const gen = generator.sample()[0];
    const nodes = processes.filter((p) => p.role === "node");
    log(
      progressLine({
        elapsedS: now,
        connected: gauge("devices.connected"),
        devices: options.devices,
        rates: {
          obs: delta("obs.acked"),
          location: delta("location.acked"),
          push: delta("push.segment") + delta("push.hazard") + delta("push.presence"),
        },
        obsP99: recent.histograms.get("obs.ack")?.quantile(0.99) ?? Number.NaN,
        lagP99: recent.histograms.get("push.segment.lag")?.quantile(0.99) ?? Number.NaN,
        timeouts:
          metrics.counter("obs.timeouts") +
          metrics.counter("location.timeouts") +
          metrics.counter("heartbeat.timeouts"),
        errors:
          metrics.counter("obs.errors") + metrics.counter("location.errors") + metrics.counter("connect.failures"),
        disconnects: metrics.counter("disconnects"),
        genCpuPct: gen ? (100 * gen.cpuSeconds) / now : Number.NaN,
        genLoopMs: Math.max(0, ...[...latest.values()].map((r) => r.self.loopP99Ms)),
        nodeCpuPct: (100 * nodes.reduce((s, p) => s + p.cpuSeconds, 0)) / now,
        nodeRssMb: nodes.reduce((s, p) => s + p.rssBytes, 0) / 2 ** 20,
      }),
    );
    lastProgress = { at: now, counters: new Map(metrics.counters) };
    recent = new Recorder();
  }, options.progressMs);

  const stop = hooks.stopSignal ?? new Promise<void>(() => {});
  await sleep(options.rampMs, stop);
  const atRampEnd = new Map(metrics.counters);
  steady = true;
  const rampEndS = elapsedS();
  await sleep(options.durationMs, stop);
  const steadySeconds = elapsedS() - rampEndS;
  const graceMs = options.ackTimeoutMs + 2_000;
  tokens.stop();
  for (const child of workers) child.send({ type: "stop", graceMs });
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, graceMs + 15_000).unref())]);
  for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
  clearInterval(sampler);
  clearInterval(progress);
  const wallSeconds = elapsedS();
  processes = cluster.sample();
  const gen = generator.sample()[0];

  let verified: FigureInputs["verified"];
  let missingExamples: string[] = [];
  if (mongoUri && idsDir) {
    const files = workers.map((_, w) => join(idsDir, `acked-${w}.txt`));
    for (const file of files) writeFileSync(file, "", { flag: "a" });
    const check = await checkAckedIds(mongoUri, files);
    verified = { checked: check.checked, missing: check.missing };
    missingExamples = check.examples;
    rmSync(idsDir, { recursive: true, force: true });
  }
  const figures = computeFigures({
    metrics,
    atRampEnd,
    steadySeconds,
    wallSeconds,
    devices: options.devices,
    processes: processes.map((p) => ({
      ...p,
      rssBytes: peakNodeRss.get(p.name) ?? p.rssBytes,
    })),
    generator: {
      cpuSeconds: gen?.cpuSeconds ?? Number.NaN,
      loopP99MaxMs,
      loopMaxMs,
      rssBytes: gen?.rssBytes ?? 0,
      workers: options.workers,
    },
    ...(verified ? { verified } : {}),
    unsent: [...done.values()].reduce((s, v) => s + v, 0),
    nodeRssAtStart,
  });
  Object.assign(figures, await hooks.extra?.figures());
  const results = evaluate(thresholds, figures);
  const ok = results.every((r) => r.ok);
  log(`\n${summaryText(figures, processes, results, hooks.extra?.summary(figures), metrics.counters)}`);
  if (missingExamples.length > 0) log(`acked but missing from the store, e.g. ${missingExamples.join(", ")}`);
  const { password: _password, ...shownOptions } = options;
  const report = {
    tool: "roadpulse-sim fleet",
    at: new Date().toISOString(),
    ok,
    options: shownOptions,
    machine: machine(),
    fileLimits: limits.map((l) => l.note),
    figures: Object.fromEntries(
      Object.entries(figures).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toFixed(3)) : null]),
    ),
    processes: processes.map((p) => ({ ...p, peakRssBytes: cluster.peakRss.get(p.name) ?? p.rssBytes })),
    thresholds: results,
    counters: Object.fromEntries([...metrics.counters].sort()),
    ...hooks.extraReport?.(),
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return { ok, figures, processes, thresholds: results, report };
}
