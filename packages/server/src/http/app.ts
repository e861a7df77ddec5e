import helmet from "@fastify/helmet";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { ErrorCodes, HttpErrorSchema } from "@roadpulse/protocol";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from "fastify";
import type { NodeContext } from "../context.js";
import { AppError, isStorageUnavailable } from "../errors.js";
import { VERSION } from "../version.js";
import { errorBody, FASTIFY_ERRORS, HTTP_STATUS } from "./errors.js";
import { registerRateLimits } from "./rate-limit.js";
import { healthRoutes } from "./routes/health.js";
import { createValidatorCompiler } from "./validation.js";

/** Large enough for a 500-observation offline upload, small enough to refuse abuse early. */
export const HTTP_BODY_LIMIT = 256 * 1024;

/** One feature's routes (auth/routes.ts, presence/routes.ts, roads/routes/), built with the services they call. */
export type ApiRoutes = (app: FastifyInstance) => Promise<void>;

/**
 * The node's Fastify instance: strict validation, one error shape, `X-Node-Id` on every reply,
 * OpenAPI at `/docs` and `/health` (the metrics have a listener of their own: metrics/server.ts).
 * Feature routes are mounted afterwards (mountApi), once the services they call exist, so this file
 * stays about HTTP itself.
 */
export async function createApp(ctx: NodeContext): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is structurally Fastify's logger; the cast only bridges two type declarations.
    loggerInstance: ctx.log as unknown as FastifyBaseLogger,
    bodyLimit: HTTP_BODY_LIMIT,
    trustProxy: ctx.config.trustProxy,
    // One line per request would drown the logs of a fleet; failures are logged in onResponse.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
  });
  app.setValidatorCompiler(createValidatorCompiler());
  app.addSchema(HttpErrorSchema);

  app.addHook("onRequest", async (_request, reply) => {
    reply.header("X-Node-Id", ctx.config.nodeId);
  });
  app.addHook("onResponse", async (request, reply) => {
    // The route pattern (not the raw URL) keeps label values bounded.
    const route = request.routeOptions.url ?? "unmatched";
    const seconds = reply.elapsedTime / 1000;
    ctx.metrics.httpRequests.inc({
      method: request.method,
      route,
      status_class: `${Math.floor(reply.statusCode / 100)}xx`,
    });
    ctx.metrics.httpDuration.observe({ method: request.method, route }, seconds);
    if (reply.statusCode >= 500) {
      request.log.warn({ url: request.url, status: reply.statusCode }, "request failed");
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A store call that did not answer: the client keeps its data and retries.
    if (isStorageUnavailable(error)) {
      return reply.code(503).send(errorBody(ErrorCodes.StorageUnavailable, "Storage is unavailable, retry later"));
    }
    if (error instanceof AppError) {
      if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
      return reply.code(HTTP_STATUS[error.code]).send(errorBody(error.code, error.message));
    }
    if (error.validation) {
      const where = error.validationContext ?? "request";
      return reply
        .code(400)
        .send(errorBody(ErrorCodes.ValidationFailed, `${where}${error.message.replace(/^\w+/, "")}`));
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) return reply.code(known.status).send(errorBody(known.code, known.message));
    if (error instanceof SyntaxError || error.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return reply.code(400).send(errorBody(ErrorCodes.BadRequest, "Body is not valid JSON"));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody(ErrorCodes.BadRequest, error.message));
    }
    request.log.error({ err: error }, "unhandled error");
    return reply.code(500).send(errorBody(ErrorCodes.Internal, "Internal server error"));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(ErrorCodes.NotFound, `No route for ${request.method} ${request.url.split("?")[0]}`)),
  );

  await registerRateLimits(app, ctx);

  // Security headers on every Fastify answer. No upgrade-insecure-requests: TLS ends at the
  // balancer or ingress, and a node reached over plain HTTP (the local cluster) must still work.
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });

  if (ctx.config.docsEnabled) await registerDocs(app);

  await app.register(async (scope) => healthRoutes(scope, ctx));
  return app;
}

/** OpenAPI at `/docs/json` and its UI at `/docs`, under the UI's own content security policy. */
async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: "RoadPulse API",
        version: VERSION,
        description: "Crowdsourced road-quality network: auth, ingest, road data, operations.",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    staticCSP: true,
    // As for the API: no upgrade-insecure-requests, so the UI also loads over plain HTTP.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ""),
  });
}

/** Mounts the features' routes under /api. */
export async function mountApi(app: FastifyInstance, routes: ApiRoutes[]): Promise<void> {
  for (const register of routes) await app.register(register, { prefix: "/api" });
}
