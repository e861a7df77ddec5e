import { type ErrorCode, ErrorCodes, type HttpError } from "@roadpulse/protocol";

/** An error that the HTTP layer turns into `{"error":{code,message}}` with its status. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorBody(code: string, message: string): HttpError {
  return { error: { code, message } };
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
