import type { MetricsDelta } from "../metrics/recorder.js";
import type { DeviceSettings } from "./device.js";
import type { AreaOptions } from "./drive.js";

/** Coordinator → worker: which devices to run and how. */
export interface WorkerPlan {
  type: "start";
  worker: number;
  /** Each account's access token; a device uses its account's (`account`, an index here). */
  tokens: string[];
  devices: Array<{ deviceId: string; account: number; startDelayMs: number }>;
  settings: Omit<DeviceSettings, "deviceId" | "session">;
  area: AreaOptions;
  eventRate: number;
  /** When set, the ids of every acknowledged observation are appended here, one per line. */
  ackedIdsFile?: string;
  reportMs: number;
}

/** Coordinator → worker: an account's access token was renewed (TokenKeeper). */
export interface WorkerToken {
  type: "token";
  account: number;
  token: string;
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
