import { type MapConfig, MapConfigSchema, NodeStatusListSchema } from "@roadpulse/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requireObserver } from "../auth/roles.js";
import type { NodeContext } from "../context.js";
import type { ApiRoutes } from "../http/app.js";
import { requireUser } from "../http/auth.js";
import { loadMapAssets, mapContentSecurityPolicy } from "./map-assets.js";
import type { OpsService } from "./service.js";

/** `GET /api/ops/nodes`: the cluster's nodes and their health (observers and admins). */
export function opsRoutes(ctx: NodeContext, ops: OpsService): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.get(
      "/ops/nodes",
      {
        schema: {
          tags: ["operations"],
          summary: "The cluster's nodes and their health (observer or admin accounts)",
          security: [{ bearer: [] }],
          response: {
            200: NodeStatusListSchema,
            401: { $ref: "HttpError#" },
            403: { $ref: "HttpError#" },
          },
        },
      },
      async (request) => {
        requireObserver((await requireUser(request, ctx)).role);
        return await ops.nodes();
      },
    );
  };
}

/**
 * The live ops map at `/map` (page, script, styles) and its settings at `/map/config.json`. The page
 * itself is public, like any login page: everything it shows comes through an observer's token.
 */
export function mapPageRoutes(ctx: NodeContext): ApiRoutes {
  const assets = loadMapAssets();
  if (assets === null) ctx.log.warn("the ops map is not built (packages/ops-map/dist): /map answers 503");
  const csp = mapContentSecurityPolicy(ctx.config.mapTileUrl);
  const settings: MapConfig = {
    tileUrl: ctx.config.mapTileUrl,
    tileAttribution: ctx.config.mapTileAttribution,
    center: ctx.config.mapCenter,
  };
  const serve = (name: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const asset = assets?.get(name);
    if (asset === undefined) {
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send("The ops map is not built on this node: run the workspace build (packages/ops-map).");
    }
    reply.header("content-security-policy", csp).header("cache-control", "no-cache").header("etag", asset.etag);
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.type(asset.contentType).send(asset.body);
  };
  const hidden = { schema: { hide: true } };
  return async (app: FastifyInstance) => {
    app.get("/map", hidden, serve("index.html"));
    app.get("/map/", hidden, serve("index.html"));
    app.get("/map/app.js", hidden, serve("app.js"));
    app.get("/map/app.css", hidden, serve("app.css"));
    app.get(
      "/map/config.json",
      { schema: { tags: ["operations"], summary: "How the ops map draws", response: { 200: MapConfigSchema } } },
      async (_request, reply) => {
        reply.header("cache-control", "no-cache");
        return settings;
      },
    );
  };
}
