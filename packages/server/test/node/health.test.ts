import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, startTestNode, type TestNode } from "../support/env.js";

describe("GET /health with every service up", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(async () => {
    await node.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  it("answers in the guide's shape, names the node, and says every service is up", async () => {
    const response = await fetch(`${node.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-node-id")).toBe(node.env.NODE_ID);
    const body = (await response.json()) as { timestamp: string };
    expect(body).toEqual({
      status: "ok",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      node: node.env.NODE_ID,
      services: { mongodb: "connected", redis: "connected", socketio: "active" },
    });
    expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(5_000);
  });

  it("puts X-Node-Id on every response, errors included", async () => {
    const missing = await fetch(`${node.url}/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-node-id")).toBe(node.env.NODE_ID);
    expect(await missing.json()).toEqual({ error: { code: "NOT_FOUND", message: "No route for GET /nope" } });

    const polling = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(200);
    expect(polling.headers.get("x-node-id")).toBe(node.env.NODE_ID);
  });

  it("sends security headers on API answers: no sniffing, no framing, a content security policy", async () => {
    for (const path of ["/health", "/nope"]) {
      const response = await fetch(`${node.url}${path}`);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(response.headers.get("content-security-policy")).not.toContain("upgrade-insecure-requests");
    }
  });

  it("serves Prometheus metrics on their own port only, and the OpenAPI document", async () => {
    const metrics = await fetch(`${node.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("roadpulse_build_info{");
    // Not on the API's port (what the balancer and the ingress reach), and nothing else there.
    expect((await fetch(`${node.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${node.metricsUrl}/health`)).status).toBe(404);
    const docs = await fetch(`${node.url}/docs/json`);
    expect(docs.status).toBe(200);
    const document = (await docs.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toContain("/health");
    // The UI loads under its own policy, which also works over plain HTTP.
    const ui = await fetch(`${node.url}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get("content-security-policy")).toContain("img-src 'self' data: validator.swagger.io");
    expect(ui.headers.get("content-security-policy")).not.toContain("upgrade-insecure-requests");
  });
});

describe("/docs outside development", () => {
  it("is not served unless DOCS_ENABLED=true", async () => {
    const node = await startTestNode({ DOCS_ENABLED: "false" });
    try {
      for (const path of ["/docs", "/docs/json"]) expect((await fetch(`${node.url}${path}`)).status).toBe(404);
      expect((await fetch(`${node.url}/health`)).status).toBe(200);
    } finally {
      await node.close();
      await dropDatabase(node.env.MONGODB_URI ?? "");
    }
  });
});
