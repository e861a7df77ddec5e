import { execFile } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import { promisify } from "node:util";
import { isListening, waitFor } from "./ports.js";
import { type Service, startService } from "./process.js";

const execFileAsync = promisify(execFile);

/** A binary of Debian's `prometheus` package; scripts/lib/common.sh installs it when missing. */
export function prometheusToolBinary(name: "prometheus" | "promtool"): string {
  for (const candidate of [`/usr/bin/${name}`, `/usr/local/bin/${name}`]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(`${name} not found: the README's test command installs it (Debian package prometheus)`);
}

export interface PromtoolResult {
  code: number;
  output: string;
}

/**
 * Runs `promtool` with `args` (and `input` on stdin). Never throws on a non-zero exit: the caller
 * asserts on the code and shows the output, which is what explains a failed check.
 */
export async function promtool(args: string[], input?: string): Promise<PromtoolResult> {
  const binary = prometheusToolBinary("promtool");
  return await new Promise((resolve) => {
    const child = execFile(binary, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(input ?? "");
  });
}

/** `prometheus --version`'s first line, for reports. */
export async function prometheusVersion(): Promise<string> {
  const { stdout, stderr } = await execFileAsync(prometheusToolBinary("prometheus"), ["--version"]);
  return `${stdout}${stderr}`.split("\n")[0] ?? "";
}

export interface PrometheusInstance {
  port: number;
  url: string;
  service: Service;
  stop(): Promise<void>;
}

/**
 * A private Prometheus server on 127.0.0.1:`port` with its own data directory: never the
 * machine's (a packaged one would listen on 9090), so tests and the local cluster can run it
 * alongside anything else.
 */
export async function startPrometheus(options: {
  port: number;
  configFile: string;
  dataDir: string;
  output: string | "inherit-prefixed" | "ignore";
}): Promise<PrometheusInstance> {
  mkdirSync(options.dataDir, { recursive: true });
  const service = startService(
    `prometheus:${options.port}`,
    prometheusToolBinary("prometheus"),
    [
      `--config.file=${options.configFile}`,
      `--storage.tsdb.path=${options.dataDir}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { output: options.output },
  );
  const url = `http://127.0.0.1:${options.port}`;
  await waitFor(
    `Prometheus on port ${options.port}`,
    async () => {
      if (!service.running) throw new Error(`prometheus exited: ${service.recentOutput}`);
      if (!(await isListening(options.port))) return false;
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      return response.ok;
    },
    30_000,
    100,
  );
  return { port: options.port, url, service, stop: async () => void (await service.stop("SIGTERM", 10_000)) };
}
