import type { ProcessGroup } from "../proc/discover.js";
import type { GroupSample } from "../proc/sampler.js";

export interface Point {
  t: number;
  value: number;
}

/** The median of the points whose time falls in [from, to) of the run, as fractions of its length. */
function medianBetween(points: Point[], end: number, from: number, to: number): number {
  const values = points
    .filter((p) => p.t >= from * end && p.t < to * end)
    .map((p) => p.value)
    .sort((a, b) => a - b);
  return values.length === 0 ? Number.NaN : (values[Math.floor(values.length / 2)] as number);
}

/**
 * Growth of a series that should level off: the median of the last quarter of the run against the
 * median of the second quarter (the first quarter is warm-up: connections, JIT, caches). A leak
 * grows with time and shows here; noise and a level that was reached early do not.
 */
export function growth(points: Point[]): { from: number; to: number; pct: number } {
  const end = points.at(-1)?.t ?? 0;
  const from = medianBetween(points, end, 0.25, 0.5);
  const to = medianBetween(points, end, 0.75, 1.01);
  return { from, to, pct: from > 0 ? (100 * (to - from)) / from : Number.NaN };
}

/** Per-node series of heap used, from each node's Prometheus `/metrics` (label `node`). */
export async function heapByNode(url: string, timeoutMs: number): Promise<Map<string, number>> {
  const heaps = new Map<string, number>();
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  for (const line of text.split("\n")) {
    const match = /^\w*nodejs_heap_size_used_bytes(?:\{([^}]*)\})?\s+([0-9.e+]+)/.exec(line);
    if (!match) continue;
    const node = /node="([^"]+)"/.exec(match[1] ?? "")?.[1] ?? "node";
    heaps.set(node, (heaps.get(node) ?? 0) + Number(match[2]));
  }
  return heaps;
}

/**
 * What a soak watches every few seconds: `/health` through the URL (and of every local node)
 * answering 200 within the deadline, node RSS and open files from /proc, node heap from /metrics.
 */
export class SoakWatch {
  readonly health: number[] = [];
  healthFailures = 0;
  readonly failures: string[] = [];
  readonly series = new Map<string, Point[]>();
  #started = performance.now();

  constructor(
    private readonly url: string,
    private readonly healthTimeoutMs: number,
  ) {}

  #add(name: string, value: number): void {
    const points = this.series.get(name) ?? [];
    points.push({ t: (performance.now() - this.#started) / 1000, value });
    this.series.set(name, points);
  }

  async #health(url: string): Promise<void> {
    const started = performance.now();
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(this.healthTimeoutMs) });
      await response.text();
      const ms = performance.now() - started;
      this.health.push(ms);
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      this.healthFailures += 1;
      if (this.failures.length < 10)
        this.failures.push(`${new Date().toISOString()} ${url}/health: ${(error as Error).message}`);
    }
  }

  async check(processes: GroupSample[], groups: ProcessGroup[]): Promise<void> {
    const nodes = groups.filter((g) => g.role === "node" && g.url);
    await Promise.all([this.#health(this.url), ...nodes.map((n) => this.#health(n.url as string))]);
    for (const p of processes.filter((q) => q.role === "node")) {
      this.#add(`rss:${p.name}`, p.rssBytes);
      this.#add(`fds:${p.name}`, p.fds);
    }
    // The metrics are on each node's metrics port, never through the balancer.
    const sources = nodes.flatMap((n) => (n.metricsUrl ? [n.metricsUrl] : []));
    for (const source of sources) {
      try {
        for (const [node, heap] of await heapByNode(source, this.healthTimeoutMs * 3)) this.#add(`heap:${node}`, heap);
      } catch {}
    }
  }

  /** The worst growth per kind over all nodes. */
  worst(kind: "rss" | "heap" | "fds"): { name: string; from: number; to: number; pct: number } {
    let worst = { name: "-", from: Number.NaN, to: Number.NaN, pct: Number.NaN };
    for (const [name, points] of this.series) {
      if (!name.startsWith(`${kind}:`)) continue;
      const g = growth(points);
      if (Number.isNaN(worst.pct) || g.pct > worst.pct) worst = { name: name.slice(kind.length + 1), ...g };
    }
    return worst;
  }
}
