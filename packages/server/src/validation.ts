import { Ajv, type Options } from "ajv";
import addFormats from "ajv-formats";

/**
 * JSON Schema validation shared by both transports and the core. Payloads must match exactly: no
 * stripping of unknown keys (an unexpected key is an error, not something silently dropped), and
 * no coercion unless asked for (only HTTP query strings and path parameters, which arrive as text).
 */
export function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    ...options,
  });
  addFormats.default(ajv);
  return ajv;
}

/** The strict rules of JSON bodies, for Socket.IO payloads and the core's own item checks. */
export function createPayloadAjv(): Ajv {
  return makeAjv({ coerceTypes: false });
}
