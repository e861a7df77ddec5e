import type { ProcessGroup } from "./discover.js";
import { childrenOf, procStat } from "./procfs.js";

export interface GroupSample {
  name: string;
  role: ProcessGroup["role"];
  processes: number;
  /** CPU seconds used since sampling began (processes that exited keep what they used). */
  cpuSeconds: number;
  rssBytes: number;
  fds: number;
}

function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i] as number));
  return out;
}

/**
 * CPU-seconds, RSS and open files of process groups, from /proc. A group is a process and all its
 * descendants (a node and its workers; nginx and its workers), or the processes its `members`
 * lists (one database's PostgreSQL backends), re-listed at every sample so a restarted worker or a
 * new backend is picked up.
 */
export class ProcSampler {
  #base = new Map<number, number>();
  #last = new Map<number, number>();
  #gone = new Map<string, number>();
  #members = new Map<string, Set<number>>();
  peakRss = new Map<string, number>();

  constructor(readonly groups: ProcessGroup[]) {}

  sample(): GroupSample[] {
    return this.groups.map((group) => {
      const pids = group.members?.() ?? descendants(group.pid);
      const previous = this.#members.get(group.name) ?? new Set<number>();
      let cpu = this.#gone.get(group.name) ?? 0;
      let rss = 0;
      let fds = 0;
      let alive = 0;
      const seen = new Set<number>();
      for (const pid of pids) {
        const stat = procStat(pid);
        if (!stat) continue;
        alive += 1;
        seen.add(pid);
        if (!this.#base.has(pid))
          this.#base.set(pid, previous.size === 0 && !this.#members.has(group.name) ? stat.cpuSeconds : 0);
        this.#last.set(pid, stat.cpuSeconds);
        cpu += stat.cpuSeconds - (this.#base.get(pid) ?? 0);
        rss += stat.rssBytes;
        fds += stat.fds;
      }
      for (const pid of previous) {
        if (!seen.has(pid)) {
          this.#gone.set(
            group.name,
            (this.#gone.get(group.name) ?? 0) + (this.#last.get(pid) ?? 0) - (this.#base.get(pid) ?? 0),
          );
          cpu += (this.#last.get(pid) ?? 0) - (this.#base.get(pid) ?? 0);
        }
      }
      this.#members.set(group.name, seen);
      this.peakRss.set(group.name, Math.max(this.peakRss.get(group.name) ?? 0, rss));
      return { name: group.name, role: group.role, processes: alive, cpuSeconds: cpu, rssBytes: rss, fds };
    });
  }
}
