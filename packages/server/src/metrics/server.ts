import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface MetricsServer {
  /** The port bound (useful with METRICS_PORT=0). */
  port: number;
  close(): Promise<void>;
}

const NOT_FOUND = JSON.stringify({ error: { code: "NOT_FOUND", message: "Only GET /metrics is served here" } });

/**
 * `GET /metrics` on a listener of its own (METRICS_PORT), apart from the public API's port: the
 * balancer and the ingress only reach the API port, so the metrics are for Prometheus alone.
 * `render` gives the exposition text: the node's registry, or with WORKERS > 1 the primary's merge
 * of every worker's.
 */
export async function startMetricsServer(
  host: string,
  port: number,
  contentType: string,
  render: () => Promise<string>,
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "application/json" }).end(NOT_FOUND);
      return;
    }
    render().then(
      (body) => response.writeHead(200, { "content-type": contentType }).end(body),
      (error: Error) =>
        response
          .writeHead(500, { "content-type": "application/json" })
          .end(JSON.stringify({ error: { code: "INTERNAL", message: `metrics: ${error.message}` } })),
    );
  });
  // A scrape is one short request: nothing keeps a connection open past it for long.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
