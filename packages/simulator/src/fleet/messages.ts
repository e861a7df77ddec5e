import type { MetricsDelta } from "../metrics/recorder.js";
import type { DeviceSettings } from "./device.js";
import type { AreaOptions } from "./drive.js";

/** Coordinator → worker: which devices to run and how. */
export interface WorkerPlan {
  type: "start";
  worker: number;
  devices: Array<{ deviceId: string; token: string; startDelayMs: number }>;
  settings: Omit<DeviceSettings, "deviceId" | "token">;
  area: AreaOptions;
  eventRate: number;
  /** When set, the ids of every acknowledged observation are appended here, one per line. */
  ackedIdsFile?: string;
  reportMs: number;
}

export interface WorkerStop {
  type: "stop";
  graceMs: number;
}

/** Worker → coordinator, every `reportMs` and once more at the end. */
export interface WorkerReport {
  type: "report";
  worker: number;
  delta: MetricsDelta;
  /** The worker's own cost: cumulative CPU (ms), RSS, event-loop delay over the last period. */
  self: { cpuMs: number; rssBytes: number; loopP99Ms: number; loopMaxMs: number };
}

export interface WorkerDone {
  type: "done";
  worker: number;
  unsent: number;
}

export type WorkerMessage = WorkerReport | WorkerDone;
