import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_STORE_GOGC, ferretdbEnv, type MongoInstance, startFerretDB } from "@roadpulse/devstack";
import { afterAll, describe, expect, it } from "vitest";

/** The environment a running process was started with (Linux). */
function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(
    entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}

describe("the local store's garbage collector target", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-store-gc-"));
  let store: MongoInstance | undefined;
  afterAll(async () => {
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs FerretDB with GOGC=400 unless ROADPULSE_STORE_GOGC says otherwise", async () => {
    store = await startFerretDB({ dataDir: join(dir, "ferretdb"), output: "ignore" });
    const pid = store.service?.pid;
    expect(pid).toBeTypeOf("number");
    expect(environOf(pid as number).GOGC).toBe(DEFAULT_STORE_GOGC);
    expect(DEFAULT_STORE_GOGC).toBe("400");

    expect(ferretdbEnv({ ROADPULSE_STORE_GOGC: "150" }).GOGC).toBe("150");
    expect(ferretdbEnv({ ROADPULSE_STORE_GOGC: "off" }).GOGC).toBe("off");
    expect(ferretdbEnv({ GOGC: "50" }).GOGC).toBe("400");
  });

  it("refuses a target that is not a whole number or off, before anything starts", () => {
    for (const bad of ["0", "-1", "4OO", "1e3", "400 ", "1000000"]) {
      expect(() => ferretdbEnv({ ROADPULSE_STORE_GOGC: bad })).toThrow(
        `ROADPULSE_STORE_GOGC must be a whole number from 1 to 999999 or "off", got "${bad}"`,
      );
    }
  });
});
