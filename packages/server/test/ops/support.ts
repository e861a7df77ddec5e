import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promtool } from "@roadpulse/devstack";
import { expect } from "vitest";
import { Metrics } from "../../src/metrics/registry.js";

/** The repository root (deploy/, docker-compose.yml, nginx.conf live there). */
export const ROOT = resolve(new URL("../../../..", import.meta.url).pathname);

export interface CatalogueEntry {
  name: string;
  type: string;
}

/**
 * Every metric family a node exports, read from the code's own registry (the catalogue plus
 * prom-client's defaults), so tests never keep a second list that could drift from it.
 */
export async function catalogue(): Promise<CatalogueEntry[]> {
  const metrics = new Metrics("catalogue", "0.0.0");
  const families = await metrics.registry.getMetricsAsJSON();
  metrics.registry.clear();
  return families.map((family) => ({ name: family.name, type: String(family.type) }));
}

/** Series names a family produces in the exposition format (histograms add three suffixes). */
export function seriesNames(entry: CatalogueEntry): string[] {
  if (entry.type === "histogram") return [`${entry.name}_bucket`, `${entry.name}_sum`, `${entry.name}_count`];
  if (entry.type === "summary") return [entry.name, `${entry.name}_sum`, `${entry.name}_count`];
  return [entry.name];
}

/** Every `roadpulse_*` name a PromQL expression mentions. */
export function roadpulseNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\broadpulse_[a-zA-Z0-9_]+/g)].map((match) => match[0]);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format far enough for assertions (no escapes in our label values). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return await response.text();
}

/** `promtool check metrics` on a scrape: exit code 0 and no complaint printed. */
export async function expectPromtoolHappy(text: string): Promise<void> {
  const result = await promtool(["check", "metrics"], text);
  expect(result.output.trim(), "promtool check metrics").toBe("");
  expect(result.code).toBe(0);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded), never throwing on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd ?? ROOT,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolvePromise({
          code,
          stdout,
          stderr: `${stderr}${error && typeof error.code !== "number" ? error.message : ""}`,
        });
      },
    );
  });
}
