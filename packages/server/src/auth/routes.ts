import {
  AuthResponseSchema,
  DeviceRegistrationSchema,
  type LoginBody,
  LoginBodySchema,
  PublicUserSchema,
  type RefreshBody,
  RefreshBodySchema,
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

/**
 * `POST /api/auth/register`, `/login`, `/refresh`, `/logout`, `GET /api/users/me`,
 * `POST /api/devices`.
 */
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

    app.post<{ Body: RefreshBody }>(
      "/auth/refresh",
      {
        schema: {
          tags: ["auth"],
          summary: "Trade a refresh token for new tokens (the one sent is used up)",
          description:
            "Call before the access token expires (`expiresIn`) or when a request answers 401. Each refresh " +
            "token works once: sending one again ends its session (all its tokens stop working).",
          body: RefreshBodySchema,
          response: { 200: AuthResponseSchema, ...errorResponses },
        },
        // Signed tokens cannot be guessed, and refreshing costs no password hash: the general
        // per-address budget applies, not the login one (many phones share a carrier's address).
      },
      async (request) => await accounts.refresh(request.body.refreshToken),
    );

    app.post<{ Body: RefreshBody }>(
      "/auth/logout",
      {
        schema: {
          tags: ["auth"],
          summary: "End a login session: its refresh and access tokens stop working on every node",
          body: RefreshBodySchema,
          response: { 204: { type: "null" }, ...errorResponses },
        },
      },
      async (request, reply) => {
        await accounts.logout(request.body.refreshToken);
        return reply.code(204).send();
      },
    );

    app.post(
      "/devices",
      {
        schema: {
          tags: ["auth"],
          summary: "Register a device: the id it connects with from now on, bound to this account",
          description:
            "Call once per installation and keep the id: the Socket.IO handshake (`query.deviceId`) and " +
            "`X-Device-Id` accept only ids issued to the token's account.",
          security: [{ bearer: [] }],
          response: { 201: DeviceRegistrationSchema, 401: { $ref: "HttpError#" } },
        },
      },
      async (request, reply) => {
        const claims = await requireUser(request, ctx);
        return reply.code(201).send({ deviceId: ctx.devices.issue(claims.userId) });
      },
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
