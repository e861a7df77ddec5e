import type { Histogram } from "prom-client";

/**
 * Runs `work` and records how long it took in `histogram`, whether it succeeded or threw: a write
 * that times out is exactly the latency an operator needs to see.
 */
export async function timed<L extends string, T>(
  histogram: Histogram<L>,
  labels: Partial<Record<L, string>>,
  work: () => Promise<T>,
): Promise<T> {
  const stop = histogram.startTimer(labels);
  try {
    return await work();
  } finally {
    stop();
  }
}
