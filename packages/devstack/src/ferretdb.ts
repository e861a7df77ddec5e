import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, isListening, waitFor } from "./ports.js";
import { type Service, startService } from "./process.js";

export interface MongoInstance {
  /** Connection string without a database name; append `/<db>`. */
  baseUri: string;
  port: number;
  service?: Service;
  stop(): Promise<void>;
}

/** The FerretDB binary installed by scripts/lib/install-ferretdb.sh (or `FERRETDB_BIN`). */
export function ferretdbBinary(): string {
  if (process.env.FERRETDB_BIN) return process.env.FERRETDB_BIN;
  let gobin = "";
  try {
    gobin = execFileSync("go", ["env", "GOBIN"], { encoding: "utf8" }).trim();
    if (gobin === "") gobin = join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin");
  } catch {
    gobin = join(process.env.HOME ?? "/root", "go", "bin");
  }
  const bin = join(gobin, "ferretdb");
  if (!existsSync(bin)) {
    throw new Error(`FerretDB not found at ${bin}: run scripts/lib/install-ferretdb.sh (the README's commands do)`);
  }
  return bin;
}

/** FerretDB 1.24 with its SQLite backend: the MongoDB wire protocol on a local port. */
export async function startFerretDB(options: {
  port?: number;
  dataDir: string;
  output: string | "inherit-prefixed" | "ignore";
}): Promise<MongoInstance> {
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  const service = startService(
    `ferretdb:${port}`,
    ferretdbBinary(),
    [
      "--handler=sqlite",
      `--sqlite-url=file:${options.dataDir}/`,
      "--telemetry=disable",
      `--state-dir=${options.dataDir}`,
      `--listen-addr=127.0.0.1:${port}`,
      "--debug-addr=-",
      "--log-level=warn",
    ],
    { output: options.output },
  );
  await waitFor(`FerretDB on port ${port}`, async () => {
    if (!service.running) throw new Error(`FerretDB exited: ${service.recentOutput}`);
    return await isListening(port);
  });
  return {
    baseUri: `mongodb://127.0.0.1:${port}`,
    port,
    service,
    stop: async () => void (await service.stop("SIGTERM", 5_000)),
  };
}
