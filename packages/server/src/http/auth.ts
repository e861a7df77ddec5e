import { ErrorCodes } from "@roadpulse/protocol";
import type { FastifyRequest } from "fastify";
import type { TokenClaims } from "../auth/tokens.js";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";

/** The token of an `Authorization: Bearer <token>` header, if the request has one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
}

/** Verifies `Authorization: Bearer <jwt>`; throws 401 otherwise. */
export async function requireUser(request: FastifyRequest, ctx: NodeContext): Promise<TokenClaims> {
  const claims = await ctx.tokens.verify(bearerToken(request));
  if (claims === null) throw new AppError(ErrorCodes.Unauthorized, "A valid bearer token is required");
  return claims;
}
