import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export interface ServiceOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go; `"inherit-prefixed"` prints them with a `[name]` prefix. */
  output: string | "inherit-prefixed" | "ignore";
}

/** A child process this tool started and therefore must stop. */
export class Service {
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;
  #output = "";

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exitCode = code ?? (signal ? null : 0);
        resolve(this.#exitCode);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last 64 KB the process printed (kept for error messages). */
  get recentOutput(): string {
    return this.#output;
  }

  record(chunk: Buffer): void {
    this.#output = (this.#output + chunk.toString("utf8")).slice(-65_536);
  }

  /** Sends `signal`, escalates to SIGKILL after `graceMs`, resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.#exitCode ?? null;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  kill(): Promise<number | null> {
    return this.stop("SIGKILL", 0);
  }
}

export function startService(name: string, command: string, args: string[], options: ServiceOptions): Service {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const service = new Service(name, child);
  const sinks: Array<(chunk: Buffer) => void> = [(chunk) => service.record(chunk)];
  if (options.output === "inherit-prefixed") {
    const prefix = `[${name}] `;
    sinks.push((chunk) => {
      const text = chunk.toString("utf8").replace(/\n(?=.)/g, `\n${prefix}`);
      process.stdout.write(prefix + text);
    });
  } else if (options.output !== "ignore") {
    mkdirSync(dirname(options.output), { recursive: true });
    const file = createWriteStream(options.output, { flags: "a" });
    sinks.push((chunk) => file.write(chunk));
    child.once("exit", () => file.end());
  }
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      for (const sink of sinks) sink(chunk);
    });
  }
  child.once("error", (error) => service.record(Buffer.from(`spawn error: ${error.message}\n`)));
  return service;
}
