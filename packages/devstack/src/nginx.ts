import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { isListening, waitFor } from "./ports.js";
import { type Service, startService } from "./process.js";

/** The top-level nginx.conf: the one balancing logic for the local cluster and docker-compose. */
export const NGINX_CONF = resolve(new URL("../../../nginx.conf", import.meta.url).pathname);

export function nginxBinary(): string {
  for (const candidate of ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]) {
    try {
      execFileSync(candidate, ["-v"], { stdio: "ignore" });
      return candidate;
    } catch {}
  }
  throw new Error("nginx not found: the README's start and test commands install it (Debian package nginx-light)");
}

export interface NginxInstance {
  port: number;
  url: string;
  service: Service;
  /** Rewrites the upstream list and reloads nginx without dropping connections. */
  setUpstreams(servers: string[]): Promise<void>;
  stop(): Promise<void>;
}

function upstreamLines(servers: string[]): string {
  // One failure marks a node down for 3 s; nginx then retries the request on the next node.
  return `${servers.map((server) => `server ${server} max_fails=1 fail_timeout=3s;`).join("\n")}\n`;
}

/**
 * Runs nginx with the project's nginx.conf in a directory of its own: the two per-environment
 * includes (upstream-servers.conf, listen.conf) are written next to a copy of the config.
 */
export async function startNginx(options: {
  port: number;
  upstreams: string[];
  dir: string;
  output: string | "inherit-prefixed" | "ignore";
}): Promise<NginxInstance> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  copyFileSync(NGINX_CONF, join(dir, "nginx.conf"));
  writeFileSync(join(dir, "upstream-servers.conf"), upstreamLines(options.upstreams));
  writeFileSync(join(dir, "listen.conf"), `listen 127.0.0.1:${options.port};\n`);
  const binary = nginxBinary();
  const globals = `daemon off; master_process on; pid ${join(dir, "nginx.pid")}; error_log stderr warn;`;
  const args = ["-p", `${dir}/`, "-c", join(dir, "nginx.conf"), "-g", globals];
  execFileSync(binary, ["-t", "-q", ...args], { stdio: "pipe" });
  const service = startService(`nginx:${options.port}`, binary, args, { output: options.output });
  await waitFor(`nginx on port ${options.port}`, async () => {
    if (!service.running) throw new Error(`nginx exited: ${service.recentOutput}`);
    return await isListening(options.port);
  });
  return {
    port: options.port,
    url: `http://127.0.0.1:${options.port}`,
    service,
    async setUpstreams(servers) {
      writeFileSync(join(dir, "upstream-servers.conf"), upstreamLines(servers));
      execFileSync(binary, ["-t", "-q", ...args], { stdio: "pipe" });
      service.child.kill("SIGHUP");
    },
    stop: async () => void (await service.stop("SIGQUIT", 5_000)),
  };
}
