import { type ErrorCode, ErrorCodes } from "@roadpulse/protocol";
import { MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError } from "mongodb";

/**
 * The one error contract of the core: a code from the protocol's list and a message a client
 * developer can act on. The transports map it to their own form (http/errors.ts: an HTTP status and
 * `{"error":{code,message}}`; realtime/ack.ts: `{ok:false,error}`), so the core never names a status.
 */
export class AppError extends Error {
  /** When the client may try again (`RATE_LIMITED`); HTTP sends it as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = "AppError";
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The longest error message a client is sent; longer ones are cut (they may quote its input). */
export const MAX_ERROR_MESSAGE_LENGTH = 200;

/**
 * `text` if it is at most `max` characters, else its start, an ellipsis and its length: how an
 * error quotes what a client sent (a 100 KB key is named, not echoed back to the sender).
 */
export function excerpt(text: string, max = 40): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** An error message bounded for the wire (MAX_ERROR_MESSAGE_LENGTH). */
export function boundedMessage(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…`;
}

/**
 * A store call whose outcome is not known: the store could not be reached, or the connection broke
 * before it answered. Nothing may be claimed from it; the caller answers STORAGE_UNAVAILABLE and
 * the device sends the same data again (ids make the retry exactly-once).
 */
export class StorageUnavailableError extends AppError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.StorageUnavailable, message, options);
    this.name = "StorageUnavailableError";
  }
}

/** MongoDB's code for an operation stopped by its `maxTimeMS`. */
const MAX_TIME_MS_EXPIRED = 50;

/**
 * True for errors meaning "the store did not answer in time or could not be reached", as opposed
 * to a bad request or a bug: server selection, network and pool errors (a cleared pool is a
 * network error), a connection that waited too long for its turn, and deadlines (`maxTimeMS`).
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error instanceof StorageUnavailableError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNetworkError ||
    error instanceof MongoOperationTimeoutError ||
    (error instanceof MongoServerError && error.code === MAX_TIME_MS_EXPIRED) ||
    error.name === "MongoTopologyClosedError" ||
    error.name === "MongoWaitQueueTimeoutError"
  );
}
