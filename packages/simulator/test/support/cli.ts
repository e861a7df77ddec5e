import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The built CLI, as load testers run it (scripts/test.sh compiles the workspace first). */
export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

export interface CliRun {
  code: number | null;
  output: string;
}

/** Runs `roadpulse-sim <args>` to the end (killed after `timeoutMs`), with its output kept. */
export function runCli(args: string[], timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface Report {
  ok: boolean;
  figures: Record<string, number | null>;
  processes: Array<{ name: string; role: string; cpuSeconds: number; rssBytes: number }>;
  thresholds: Array<{ expression: string; value: number | null; ok: boolean }>;
}

export function readReport(file: string): Report {
  return JSON.parse(readFileSync(file, "utf8")) as Report;
}
