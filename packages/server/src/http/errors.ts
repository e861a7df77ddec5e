import { type ErrorCode, ErrorCodes, type HttpError } from "@roadpulse/protocol";
import { boundedMessage } from "../errors.js";

/** The HTTP status of each coded error (src/errors.ts); the body is `{"error":{code,message}}`. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCodes.BadRequest]: 400,
  [ErrorCodes.ValidationFailed]: 400,
  [ErrorCodes.Unauthorized]: 401,
  [ErrorCodes.Forbidden]: 403,
  [ErrorCodes.NotFound]: 404,
  [ErrorCodes.Conflict]: 409,
  [ErrorCodes.PayloadTooLarge]: 413,
  [ErrorCodes.RateLimited]: 429,
  [ErrorCodes.StorageUnavailable]: 503,
  [ErrorCodes.ShuttingDown]: 503,
  [ErrorCodes.Internal]: 500,
};

export function errorBody(code: string, message: string): HttpError {
  return { error: { code, message: boundedMessage(message) } };
}

/** Fastify's own error codes mapped to the API's, for errors raised before a handler runs. */
export const FASTIFY_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: ErrorCodes.PayloadTooLarge,
    message: "Request body is too large",
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: ErrorCodes.BadRequest,
    message: "Unsupported content type; send application/json",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: ErrorCodes.BadRequest,
    message: "Body must not be empty",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: ErrorCodes.BadRequest,
    message: "Content-Length does not match the body",
  },
};
