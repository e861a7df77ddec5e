import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's CPU times (100 on every common Linux). */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** user + system CPU, seconds, since the process started */
  cpuSeconds: number;
  rssBytes: number;
  fds: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** One process's counters, or undefined once it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (stat === undefined || status === undefined) return undefined;
  // comm may contain spaces and parentheses: the fields after it start at the last ')'.
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const fields = stat.slice(close + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let fds = 0;
  try {
    fds = readdirSync(`/proc/${pid}/fd`).length;
  } catch {}
  return { pid, ppid: Number(fields[1]), comm, cpuSeconds: (utime + stime) / CLOCK_TICKS, rssBytes: rssKb * 1024, fds };
}

export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

export function childrenOf(pid: number): number[] {
  const listed = read(`/proc/${pid}/task/${pid}/children`);
  if (listed !== undefined) return listed.trim() === "" ? [] : listed.trim().split(/\s+/).map(Number);
  return allPids().filter((child) => procStat(child)?.ppid === pid);
}

export function cmdline(pid: number): string[] {
  return (read(`/proc/${pid}/cmdline`) ?? "").split("\0").filter((part) => part !== "");
}

export function environ(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (read(`/proc/${pid}/environ`) ?? "").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Socket inodes listening on a TCP port (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(table) ?? "").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ip:port in hex; state 0A is LISTEN; inode is column 10.
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === "0A" && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** Processes holding a socket that listens on `port` (only processes we may inspect). */
export function pidsListeningOn(port: number): number[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const found: number[] = [];
  for (const pid of allPids()) {
    let entries: string[];
    try {
      entries = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of entries) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith("socket:[") && inodes.has(target.slice(8, -1))) {
          found.push(pid);
          break;
        }
      } catch {}
    }
  }
  return found;
}
