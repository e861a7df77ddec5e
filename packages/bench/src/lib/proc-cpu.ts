import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's CPU times (Linux's USER_HZ). */
const TICK_HZ = 100;

/** CPU-seconds so far of one process (utime + stime), 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / TICK_HZ;
  } catch {
    return 0;
  }
}

/** Every PostgreSQL server process: the backends FerretDB talks to and the shared writers. */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") total += cpuSeconds(Number(entry));
    } catch {}
  }
  return total;
}
