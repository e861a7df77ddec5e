/**
 * An error the SDK hands to the app: the server's coded error (`code` from `@roadpulse/protocol`'s
 * `ErrorCodes`, the same for HTTP answers and socket acks) or one of the SDK's own
 * (`ACK_TIMEOUT`, `NETWORK`, `QUEUE_FULL`, `CLOSED`).
 */
export class RoadPulseError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status, when the error came from an HTTP answer. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "RoadPulseError";
  }

  /** Worth trying again later (the data is kept): the server or the network was not able to answer now. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

const RETRYABLE = new Set([
  "ACK_TIMEOUT",
  "NETWORK",
  "RATE_LIMITED",
  "STORAGE_UNAVAILABLE",
  "SHUTTING_DOWN",
  "INTERNAL",
]);
