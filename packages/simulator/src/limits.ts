import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface FileLimit {
  soft: number;
  hard: number;
  /** What was done or why not, for the report. */
  note: string;
}

function current(pid: number | "self"): { soft: number; hard: number } {
  const text = readFileSync(`/proc/${pid}/limits`, "utf8");
  const line = text.split("\n").find((l) => l.startsWith("Max open files")) ?? "";
  const [soft, hard] = line
    .replace("Max open files", "")
    .trim()
    .split(/\s+/)
    .map((v) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v)));
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
}

/**
 * Raises a process's open-file limit to its hard limit (what an unprivileged process may do) with
 * util-linux `prlimit`, since Node has no setrlimit. Every device holds one socket (two with
 * polling upgrades), so a worker with more devices than its soft limit would fail to connect.
 */
export function raiseFileLimit(pid: number, wanted: number): FileLimit {
  let limit = current(pid);
  if (limit.soft >= wanted) return { ...limit, note: `open files: ${limit.soft} (enough for ${wanted})` };
  const target = Math.min(limit.hard, Math.max(wanted, limit.soft));
  try {
    execFileSync("prlimit", ["--pid", String(pid), `--nofile=${target}:${limit.hard}`], { stdio: "pipe" });
    limit = current(pid);
  } catch (error) {
    return {
      ...limit,
      note: `open files: could not raise ${limit.soft} (prlimit: ${(error as Error).message.split("\n")[0]})`,
    };
  }
  if (limit.soft >= wanted) return { ...limit, note: `open files: raised to ${limit.soft} (hard limit ${limit.hard})` };
  return {
    ...limit,
    note:
      `open files: ${limit.soft} (hard limit ${limit.hard}) is below the ${wanted} this process needs; ` +
      "raise the hard limit (ulimit -Hn as root, /etc/security/limits.conf, or LimitNOFILE= in systemd) or use more workers",
  };
}
