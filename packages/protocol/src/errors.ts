import { type Static, Type } from "@sinclair/typebox";

/**
 * Error codes shared by the HTTP API (`{"error":{code,message}}`) and Socket.IO acks
 * (`{ok:false, error:{code,message}}`). Clients branch on `code`, never on `message`.
 */
export const ErrorCodes = {
  BadRequest: "BAD_REQUEST",
  ValidationFailed: "VALIDATION_FAILED",
  Unauthorized: "UNAUTHORIZED",
  Forbidden: "FORBIDDEN",
  NotFound: "NOT_FOUND",
  Conflict: "CONFLICT",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  RateLimited: "RATE_LIMITED",
  StorageUnavailable: "STORAGE_UNAVAILABLE",
  ShuttingDown: "SHUTTING_DOWN",
  Internal: "INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export const ErrorBodySchema = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;

export const HttpErrorSchema = Type.Object({ error: ErrorBodySchema }, { $id: "HttpError" });
export type HttpError = Static<typeof HttpErrorSchema>;

export type AckError = { ok: false; error: ErrorBody };
export type AckOk<T extends object = object> = { ok: true } & T;
export type Ack<T extends object = object> = AckOk<T> | AckError;
