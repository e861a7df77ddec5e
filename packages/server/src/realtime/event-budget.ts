/**
 * How many events one connection may send: a token bucket (`ratePerSecond` refilled, up to
 * `burst` saved), so a device's normal pace (a location every few seconds, a batch a second, a
 * heartbeat) never meets it, while a flood gets `RATE_LIMITED` acks past the burst. A connection
 * refused `disconnectAfter` times within `windowMs` is a persistent abuser: the caller
 * disconnects it. It also bounds the events of the connection being handled at once. One small
 * object per socket, no timer: refills are computed when an event comes.
 */
export class EventBudget {
  #tokens: number;
  #refilledAt: number;
  #refused = 0;
  #windowStart: number;
  #inFlight = 0;

  constructor(
    private readonly limits: {
      ratePerSecond: number;
      burst: number;
      disconnectAfter: number;
      windowMs: number;
      /** Events being handled at once, at most (a slow store must not pile up work per socket). */
      maxInFlight: number;
    },
    now: number,
  ) {
    this.#tokens = limits.burst;
    this.#refilledAt = now;
    this.#windowStart = now;
  }

  /** One more event being handled; false when `maxInFlight` already are (refuse it). */
  begin(): boolean {
    if (this.#inFlight >= this.limits.maxInFlight) return false;
    this.#inFlight += 1;
    return true;
  }

  /** An event begun is answered. */
  end(): void {
    this.#inFlight -= 1;
  }

  /** `ok`: spend a token; `limited`: refuse this event; `abuse`: refuse it and close the connection. */
  take(now: number): "ok" | "limited" | "abuse" {
    const { ratePerSecond, burst, disconnectAfter, windowMs } = this.limits;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * ratePerSecond);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return "ok";
    }
    if (now - this.#windowStart > windowMs) {
      this.#windowStart = now;
      this.#refused = 0;
    }
    this.#refused += 1;
    return this.#refused >= disconnectAfter ? "abuse" : "limited";
  }
}
