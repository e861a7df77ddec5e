import { spawn } from "node:child_process";
import { NODE_MAIN } from "@roadpulse/devstack";
import { describe, expect, it } from "vitest";
import { testEnv } from "../support/env.js";

/** Runs the real entry point as a process and collects how it ended. */
function runNode(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NODE_MAIN], { env: { PATH: process.env.PATH ?? "", ...env } });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`node did not exit; stdout: ${stdout}`));
    }, 15_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe("start-up with bad configuration", () => {
  it.each([
    ["PORT", { PORT: "eighty" }],
    ["REDIS_URL", { REDIS_URL: "localhost:6379" }],
    ["MONGODB_URI", { MONGODB_URI: "mysql://localhost/roadpulse" }],
    ["JWT_SECRET", { NODE_ENV: "production", JWT_SECRET: "" }],
    // deploy/k8s/secret.yaml's placeholder, applied unchanged.
    ["JWT_SECRET", { NODE_ENV: "production", JWT_SECRET: "CHANGE-ME-to-a-random-secret-of-32-or-more-characters" }],
  ])("stops with exit code 1 and one line naming %s", async (variable, bad) => {
    const result = await runNode({ ...testEnv(), ...bad });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(result.stdout).toBe("");
  });
});
