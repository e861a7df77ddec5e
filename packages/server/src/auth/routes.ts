import {
  AuthResponseSchema,
  type LoginBody,
  LoginBodySchema,
  PublicUserSchema,
  type RegisterBody,
  RegisterBodySchema,
} from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../context.js";
import type { ApiRoutes } from "../http/app.js";
import { requireUser } from "../http/auth.js";
import { authRateLimit } from "../http/rate-limit.js";
import type { Accounts } from "./accounts.js";

const errorResponses = {
  400: { $ref: "HttpError#" },
  401: { $ref: "HttpError#" },
  409: { $ref: "HttpError#" },
  503: { $ref: "HttpError#" },
};

/** `POST /api/auth/register`, `POST /api/auth/login`, `GET /api/users/me`. */
export function authRoutes(ctx: NodeContext, accounts: Accounts): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.post<{ Body: RegisterBody }>(
      "/auth/register",
      {
        schema: {
          tags: ["auth"],
          summary: "Create an account and get a token",
          body: RegisterBodySchema,
          response: { 201: AuthResponseSchema, ...errorResponses },
        },
        config: authRateLimit(ctx),
      },
      async (request, reply) => reply.code(201).send(await accounts.register(request.body)),
    );

    app.post<{ Body: LoginBody }>(
      "/auth/login",
      {
        schema: {
          tags: ["auth"],
          summary: "Exchange email and password for a token",
          body: LoginBodySchema,
          response: { 200: AuthResponseSchema, ...errorResponses },
        },
        config: authRateLimit(ctx),
      },
      async (request) => await accounts.login(request.body),
    );

    app.get(
      "/users/me",
      {
        schema: {
          tags: ["auth"],
          summary: "The account behind the bearer token",
          security: [{ bearer: [] }],
          response: { 200: PublicUserSchema, 401: { $ref: "HttpError#" }, 404: { $ref: "HttpError#" } },
        },
      },
      async (request) => {
        const claims = await requireUser(request, ctx);
        return await accounts.get(claims.userId);
      },
    );
  };
}
