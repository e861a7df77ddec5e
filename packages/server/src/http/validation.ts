import type { FastifySchemaCompiler } from "fastify";
import { makeAjv } from "../validation.js";

/**
 * Fastify's validators: bodies are JSON and must match exactly (src/validation.ts); query strings
 * and path parameters arrive as text, so they may be coerced to the scalar types their schema
 * names, and nothing else. Fastify's query parser never builds nested objects, so `?a[$gt]=` is
 * just an unknown key.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = makeAjv({ coerceTypes: false });
  const text = makeAjv({ coerceTypes: true });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === "body" ? body : text;
    return ajv.compile(schema as object);
  };
}
