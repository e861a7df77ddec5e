/** Latency samples in nanoseconds, summarised the way the benchmarks report them. */
export class Samples {
  readonly #values: number[] = [];

  add(nanoseconds: number): void {
    this.#values.push(nanoseconds);
  }

  reset(): void {
    this.#values.length = 0;
  }

  get count(): number {
    return this.#values.length;
  }

  /** The q-quantile (0..1) in milliseconds, nearest-rank. */
  quantileMs(q: number): number {
    if (this.#values.length === 0) return Number.NaN;
    const sorted = [...this.#values].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return (sorted[index] ?? Number.NaN) / 1e6;
  }
}

export function formatMs(value: number): string {
  return `${value < 1 ? value.toFixed(3) : value.toFixed(2)} ms`;
}

/** Prints a markdown table: benchmark output is meant to be pasted into notes and READMEs. */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  console.log(line(headers));
  console.log(line(headers.map(() => "---")));
  for (const row of rows) console.log(line(row));
}
