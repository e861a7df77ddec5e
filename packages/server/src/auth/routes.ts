import {
  AuthResponseSchema,
  ErrorCodes,
  type LoginBody,
  LoginBodySchema,
  type PublicUser,
  PublicUserSchema,
  type RegisterBody,
  RegisterBodySchema,
} from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from "../../auth/passwords.js";
import type { NodeContext } from "../../context.js";
import { EmailTakenError, type UserDoc, UsersRepository } from "../../store/users.js";
import { requireUser } from "../auth.js";
import { ApiError } from "../errors.js";
import { storageCall } from "../storage.js";

const errorResponses = {
  400: { $ref: "HttpError#" },
  401: { $ref: "HttpError#" },
  409: { $ref: "HttpError#" },
  503: { $ref: "HttpError#" },
};

export function publicUser(user: UserDoc): PublicUser {
  return {
    id: user._id.toHexString(),
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    createdAt: user.createdAt.toISOString(),
  };
}

export async function authRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const users = new UsersRepository(ctx.mongo.db, ctx.metrics);

  app.post<{ Body: RegisterBody }>(
    "/auth/register",
    {
      schema: {
        tags: ["auth"],
        summary: "Create an account and get a token",
        body: RegisterBodySchema,
        response: { 201: AuthResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const email = request.body.email.toLowerCase();
      const passwordHash = await hashPassword(request.body.password);
      const role = ctx.config.adminEmails.includes(email) ? "admin" : "user";
      let user: UserDoc;
      try {
        user = await storageCall(() =>
          users.create({ email, displayName: request.body.displayName.trim(), passwordHash, role }),
        );
      } catch (error) {
        if (error instanceof EmailTakenError) {
          throw new ApiError(409, ErrorCodes.Conflict, "This email is already registered");
        }
        throw error;
      }
      const token = await ctx.tokens.issue({ userId: user._id.toHexString(), role: user.role });
      return reply.code(201).send({ user: publicUser(user), token });
    },
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
    },
    async (request) => {
      const user = await storageCall(() => users.findByEmail(request.body.email));
      // Unknown emails cost the same hash as known ones, so timing does not reveal accounts.
      const ok = await verifyPassword(request.body.password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
      if (!user || !ok) throw new ApiError(401, ErrorCodes.Unauthorized, "Wrong email or password");
      const token = await ctx.tokens.issue({ userId: user._id.toHexString(), role: user.role });
      return { user: publicUser(user), token };
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
      const user = await storageCall(() => users.findById(claims.userId));
      if (!user) throw new ApiError(404, ErrorCodes.NotFound, "This account no longer exists");
      return publicUser(user);
    },
  );
}
