import rateLimit from "@fastify/rate-limit";
import { ErrorCodes } from "@roadpulse/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { isLoopbackAddress } from "../client-address.js";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { bearerToken } from "./auth.js";

const addressKey = (request: FastifyRequest) => `address:${request.ip}`;

/**
 * The budget of the routes that create or open accounts (register, login): per client address,
 * whatever token the request carries.
 */
export function authRateLimit(ctx: NodeContext): {
  rateLimit: { max: number; timeWindow: number; keyGenerator: (request: FastifyRequest) => string };
} {
  return { rateLimit: { max: ctx.config.authRateLimitPerMinute, timeWindow: 60_000, keyGenerator: addressKey } };
}

/** Routes a balancer or Prometheus polls: never limited. */
export const NOT_RATE_LIMITED = { rateLimit: false } as const;

/**
 * HTTP rate limits, counted in Redis so every node shares one budget: reconnecting to another node
 * does not buy more. A request with a validly signed access token counts against its account
 * (`ACCOUNT_RATE_LIMIT_PER_MINUTE`, from whichever addresses it comes: phones behind one carrier
 * address do not share a budget); any other against its client address (`request.ip`, from
 * X-Forwarded-For through a `TRUST_PROXY` peer; `HTTP_RATE_LIMIT_PER_MINUTE`). Register and login
 * always count per address (`AUTH_RATE_LIMIT_PER_MINUTE`, with the per-account back-off of
 * auth/login-backoff.ts behind it). Past it:
 * 429 `RATE_LIMITED` with `Retry-After`. Without Redis (off, or away) each node counts alone
 * (`skipOnError`: a Redis failure never refuses a request). This machine's own clients (the load
 * generator, probes) are not limited. The defaults stay far above what phones behind one carrier
 * address send: a device logs in rarely and speaks over its socket.
 */
export async function registerRateLimits(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: (_request, key) =>
      key.startsWith("account:") ? ctx.config.accountRateLimitPerMinute : ctx.config.httpRateLimitPerMinute,
    timeWindow: 60_000,
    ...(ctx.redis.client === null ? {} : { redis: ctx.redis.client }),
    nameSpace: "ratelimit:http:",
    skipOnError: true,
    keyGenerator: async (request) => {
      const userId = await ctx.tokens.signedUserId(bearerToken(request));
      return userId === null ? addressKey(request) : `account:${userId}`;
    },
    allowList: (request) => isLoopbackAddress(request.ip),
    onExceeded: () => ctx.metrics.limits.inc({ limit: "http_requests" }),
    errorResponseBuilder: (_request, context) =>
      new AppError(ErrorCodes.RateLimited, `Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s`, {
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });
}
