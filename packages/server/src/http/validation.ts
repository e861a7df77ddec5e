import { Ajv, type Options } from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Two validators: bodies are JSON and must match exactly (no coercion, no stripping of unknown
 * keys: an unexpected key is an error, not something silently dropped); query strings and path
 * parameters arrive as text, so they may be coerced to the scalar types their schema names, and
 * nothing else. Fastify's query parser never builds nested objects, so `?a[$gt]=` is just an
 * unknown key.
 */
function makeAjv(options: Options): Ajv {
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

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = makeAjv({ coerceTypes: false });
  const text = makeAjv({ coerceTypes: true });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === "body" ? body : text;
    return ajv.compile(schema as object);
  };
}

/** The same strict rules for Socket.IO payloads, which are JSON like HTTP bodies. */
export function createPayloadAjv(): Ajv {
  return makeAjv({ coerceTypes: false });
}
