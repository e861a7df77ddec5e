import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, StoreSupervisor, startFerretDB, waitFor } from "@roadpulse/devstack";
import { afterAll, describe, expect, it } from "vitest";

/** The local cluster's store watchdog, on a FerretDB of this file's own (it gets paused). */
describe("the local cluster's store supervisor", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-store-supervisor-"));
  const logFile = join(dir, "ferretdb.log");
  let supervisor: StoreSupervisor | undefined;
  afterAll(async () => {
    supervisor?.stop();
    await supervisor?.current.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A FerretDB in `data` under a supervisor checking it every `intervalMs`, and its log lines. */
  const supervised = async (data: string, intervalMs: number) => {
    const start = (port?: number): Promise<MongoInstance> =>
      startFerretDB({ ...(port === undefined ? {} : { port }), dataDir: join(dir, data), output: logFile });
    const first = await start();
    const lines: string[] = [];
    const watcher = new StoreSupervisor(first, () => start(first.port), {
      intervalMs,
      timeoutMs: 500,
      failures: 3,
      log: (line) => lines.push(line),
    });
    supervisor = watcher;
    return { first, watcher, lines };
  };

  it("restarts a store that stopped answering, on the same port, with a goroutine dump in its log", async () => {
    const { first, watcher, lines } = await supervised("data", 300);
    expect(await watcher.answers()).toBe(true);
    watcher.start();

    // A stall as seen in the field: the process is there, the port accepts, nothing answers.
    process.kill(first.service?.pid as number, "SIGSTOP");
    await waitFor("the supervisor to restart the store", () => watcher.restarts === 1, 30_000, 100);
    expect(watcher.current.port).toBe(first.port);
    expect(watcher.current.service?.pid).not.toBe(first.service?.pid);
    expect(await watcher.answers()).toBe(true);
    expect(lines.join("\n")).toMatch(/did not answer 3 checks in a row; restarting it/);
    expect(readFileSync(logFile, "utf8")).toMatch(/goroutine \d+/);
  });

  it("restarts a store process that exited at once, without waiting for failed checks", async () => {
    supervisor?.stop();
    await supervisor?.current.stop();
    // Checks a minute apart: a restart within the deadline below comes from the exit, not from
    // three failed checks (which would take three minutes).
    const { first, watcher, lines } = await supervised("data2", 60_000);
    watcher.start();
    process.kill(first.service?.pid as number, "SIGKILL");
    await waitFor("the supervisor to restart the store", () => watcher.restarts === 1, 30_000, 100);
    expect(watcher.current.port).toBe(first.port);
    expect(await watcher.answers()).toBe(true);
    expect(lines.join("\n")).toMatch(/exited \(code null\); restarting it/);

    // And again: the restarted process is watched too.
    process.kill(watcher.current.service?.pid as number, "SIGKILL");
    await waitFor("the supervisor to restart the store again", () => watcher.restarts === 2, 30_000, 100);
    expect(await watcher.answers()).toBe(true);
  });
});
