/**
 * Latency histogram with logarithmic buckets (2 % wide), so that worker processes can ship compact
 * deltas to the coordinator and quantiles of the merged fleet stay within about 1 % of the exact
 * value, whatever the number of samples. The maximum is kept exactly.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Values are stored in microseconds; anything under 1 µs lands in bucket 0. */
const UNIT_PER_MS = 1000;

export interface HistogramData {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  max: number;
}

export class Histogram {
  #buckets = new Map<number, number>();
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const units = ms * UNIT_PER_MS;
    const index = units < 1 ? 0 : Math.ceil(Math.log(units) / LOG_GROWTH);
    this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + 1);
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  merge(data: HistogramData): void {
    for (const [index, count] of data.buckets) this.#buckets.set(index, (this.#buckets.get(index) ?? 0) + count);
    this.count += data.count;
    this.sum += data.sum;
    if (data.max > this.max) this.max = data.max;
  }

  /** The q-quantile (0..1) in milliseconds: the upper edge of the bucket holding the nearest rank. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    const indexes = [...this.#buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of indexes) {
      seen += this.#buckets.get(index) ?? 0;
      if (seen >= rank) return Math.min(this.max, GROWTH ** index / UNIT_PER_MS);
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  toJSON(): HistogramData {
    return { buckets: [...this.#buckets.entries()], count: this.count, sum: this.sum, max: this.max };
  }

  /** Returns the data recorded since the last drain and starts afresh (worker → coordinator deltas). */
  drain(): HistogramData {
    const data = this.toJSON();
    this.#buckets = new Map();
    this.count = 0;
    this.sum = 0;
    this.max = 0;
    return data;
  }
}
