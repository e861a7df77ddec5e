import { Histogram, type HistogramData } from "./histogram.js";

/** What a worker ships to the coordinator every second: counters and histograms since the last one. */
export interface MetricsDelta {
  counters: Record<string, number>;
  histograms: Record<string, HistogramData>;
  /** Gauges are levels, not sums (connected devices, queued batches): the latest value wins. */
  gauges: Record<string, number>;
}

/**
 * Counters, gauges and latency histograms by name. Names follow one scheme so that thresholds and
 * the JSON report can refer to them: `<event>.sent`, `<event>.acked`, `<event>.timeouts`,
 * `<event>.errors`, histogram `<event>.ack` (see report.ts for the list).
 */
export class Recorder {
  readonly counters = new Map<string, number>();
  readonly histograms = new Map<string, Histogram>();
  readonly gauges = new Map<string, number>();

  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  gauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  histogram(name: string): Histogram {
    let histogram = this.histograms.get(name);
    if (!histogram) {
      histogram = new Histogram();
      this.histograms.set(name, histogram);
    }
    return histogram;
  }

  record(name: string, ms: number): void {
    this.histogram(name).record(ms);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** Everything since the last drain, then zero (gauges keep their level). */
  drain(): MetricsDelta {
    const delta: MetricsDelta = { counters: {}, histograms: {}, gauges: Object.fromEntries(this.gauges) };
    for (const [name, value] of this.counters) if (value !== 0) delta.counters[name] = value;
    for (const [name, histogram] of this.histograms)
      if (histogram.count > 0) delta.histograms[name] = histogram.drain();
    this.counters.clear();
    return delta;
  }

  merge(delta: MetricsDelta): void {
    for (const [name, value] of Object.entries(delta.counters)) this.count(name, value);
    for (const [name, data] of Object.entries(delta.histograms)) this.histogram(name).merge(data);
  }
}
