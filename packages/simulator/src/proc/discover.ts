import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allPids, cmdline, environ, pidsListeningOn, procStat } from "./procfs.js";

export type Role = "node" | "nginx" | "redis" | "store" | "generator" | "other";

/** A process to sample together with its descendants (a node's workers, nginx's workers). */
export interface ProcessGroup {
  name: string;
  role: Role;
  pid: number;
  /** The node's own HTTP URL, when known (health, metrics per node). */
  url?: string;
  /** A node's metrics listener (its METRICS_PORT), where its `/metrics` is served. */
  metricsUrl?: string;
  /**
   * The group's processes, listed again at every sample, when they are not `pid` and its
   * descendants (the PostgreSQL backends of one database: children of a postmaster that serves
   * others too).
   */
  members?: () => number[];
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"]);

function portOf(url: URL, fallback: number): number {
  return url.port ? Number(url.port) : fallback;
}

/** The topmost of several processes sharing a listening socket (nginx master, node primary). */
function topmost(pids: number[]): number | undefined {
  const set = new Set(pids);
  return pids.find((pid) => !set.has(procStat(pid)?.ppid ?? -1)) ?? pids[0];
}

function nginxUpstreamPorts(masterPid: number): number[] {
  const args = cmdline(masterPid).join(" ");
  const prefix = /-p\s+(\S+)/.exec(args)?.[1];
  const conf = /-c\s+(\S+)/.exec(args)?.[1];
  for (const dir of [prefix, conf ? join(conf, "..") : undefined]) {
    if (!dir) continue;
    try {
      const text = readFileSync(join(dir, "upstream-servers.conf"), "utf8");
      return [...text.matchAll(/server\s+[^\s:;]+:(\d+)/g)].map((m) => Number(m[1]));
    } catch {}
  }
  return [];
}

function serviceGroup(uri: string | undefined, fallbackPort: number, name: string, role: Role): ProcessGroup[] {
  if (!uri || uri === "off") return [];
  try {
    const parsed = new URL(uri);
    if (!LOOPBACK.has(parsed.hostname)) return [];
    const pid = topmost(pidsListeningOn(portOf(parsed, fallbackPort)));
    return pid === undefined ? [] : [{ name, role, pid }];
  } catch {
    return [];
  }
}

/**
 * The local cluster behind `url`, found from /proc: the process listening on the URL's port (nginx,
 * or a node), nginx's upstream ports from the `upstream-servers.conf` next to its config (as the
 * devstack writes it), the nodes listening there, and the Redis and MongoDB-compatible store named
 * in a node's environment. Nothing is found for a remote URL: only this machine can be sampled.
 */
export function discoverCluster(url: string): { groups: ProcessGroup[]; note: string } {
  const target = new URL(url);
  if (!LOOPBACK.has(target.hostname)) return { groups: [], note: "remote URL: no local processes to sample" };
  const listeners = pidsListeningOn(portOf(target, target.protocol === "https:" ? 443 : 80));
  const front = topmost(listeners);
  if (front === undefined) return { groups: [], note: "nothing we may inspect listens on the URL's port" };
  const groups: ProcessGroup[] = [];
  let nodePids: Array<{ pid: number; port: number }> = [];
  if (procStat(front)?.comm === "nginx") {
    groups.push({ name: "nginx", role: "nginx", pid: front });
    for (const port of nginxUpstreamPorts(front)) {
      const pid = topmost(pidsListeningOn(port));
      if (pid !== undefined) nodePids.push({ pid, port });
    }
  } else {
    nodePids = [{ pid: front, port: portOf(target, 80) }];
  }
  for (const { pid, port } of nodePids) {
    const env = environ(pid);
    const name = env.NODE_ID ?? `node:${port}`;
    const metricsUrl = env.METRICS_PORT ? `http://127.0.0.1:${env.METRICS_PORT}` : undefined;
    groups.push({ name, role: "node", pid, url: `http://127.0.0.1:${port}`, ...(metricsUrl ? { metricsUrl } : {}) });
  }
  const env = nodePids[0] ? environ(nodePids[0].pid) : {};
  // Only services a node names: a process without them (a baseline server) uses none, and a guess
  // at the defaults could sample somebody else's Redis.
  groups.push(...serviceGroup(env.REDIS_URL, 6379, "redis-server", "redis"));
  const store = serviceGroup(env.MONGODB_URI, 27017, "store", "store");
  groups.push(...store, ...postgresBackends(store[0]?.pid));
  const found = groups.map((g) => `${g.name}(${g.pid})`).join(" ");
  return { groups, note: nodePids.length === 0 ? `no nodes found behind ${url}: ${found}` : found };
}

/**
 * The PostgreSQL backends of the database a FerretDB on the PostgreSQL backend writes to (its
 * `--postgresql-url`): they do the store's SQL work in processes of their own, under the machine's
 * postmaster, so sampling FerretDB alone misses that share of the store's CPU. Backends show their
 * database in their process title (`postgres: [<cluster>: ]<user> <database> …`).
 */
function postgresBackends(ferretdb: number | undefined): ProcessGroup[] {
  if (ferretdb === undefined || procStat(ferretdb)?.comm !== "ferretdb") return [];
  const url = cmdline(ferretdb)
    .find((arg) => arg.startsWith("--postgresql-url="))
    ?.slice("--postgresql-url=".length);
  if (url === undefined) return [];
  let database: string;
  try {
    database = decodeURIComponent(new URL(url).pathname.slice(1));
  } catch {
    return [];
  }
  if (database === "") return [];
  const members = () =>
    allPids().filter((pid) => {
      const title = cmdline(pid).join(" ");
      return title.startsWith("postgres: ") && title.split(" ").includes(database);
    });
  const first = members()[0];
  return first === undefined ? [] : [{ name: "postgresql", role: "store", pid: first, members }];
}

/** `--procs 12,34`: explicit processes, named by their command. */
export function explicitGroups(list: string): ProcessGroup[] {
  return list
    .split(",")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0)
    .map((pid) => {
      const comm = procStat(pid)?.comm ?? "gone";
      const role: Role =
        comm === "nginx"
          ? "nginx"
          : comm.startsWith("redis")
            ? "redis"
            : comm === "ferretdb"
              ? "store"
              : comm === "node"
                ? "node"
                : "other";
      return { name: `${comm}:${pid}`, role, pid };
    });
}
