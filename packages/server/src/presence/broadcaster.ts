/**
 * Coalesces `presence:updated`: a region whose membership changed is marked, and at most once per
 * interval each marked region gets one message with its current count, however many devices moved
 * in between. A busy cell at rush hour sends a few messages a second, not one per car.
 */
export class PresenceBroadcaster {
  readonly #dirty = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: number,
    /** Reads the counts of the given regions (from Redis, or locally while Redis is away). */
    private readonly counts: (regionIds: string[]) => Promise<Map<string, number>>,
    private readonly emit: (regionId: string, count: number) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  mark(...regionIds: Array<string | null>): void {
    for (const regionId of regionIds) if (regionId !== null) this.#dirty.add(regionId);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
  }

  /** Sends one message per marked region; a flush already running is not doubled. */
  async flush(): Promise<void> {
    if (this.#flushing || this.#dirty.size === 0) return;
    const regionIds = [...this.#dirty];
    this.#dirty.clear();
    this.#flushing = (async () => {
      try {
        const counts = await this.counts(regionIds);
        for (const regionId of regionIds) this.emit(regionId, counts.get(regionId) ?? 0);
      } catch (error) {
        this.onError(error);
      }
    })();
    await this.#flushing;
    this.#flushing = undefined;
  }
}
