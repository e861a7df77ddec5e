import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpAnswer {
  status: number;
  ok: boolean;
  text: string;
  json<T>(): T;
}

/**
 * One JSON request, optionally from a chosen local address (`--local-address`: the fleet then
 * reaches the cluster as another client than the machine's own, so per-address limits count it).
 */
export function requestJson(
  url: string,
  options: {
    method: string;
    body?: unknown;
    headers?: Record<string, string>;
    localAddress?: string;
    timeoutMs: number;
  },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      {
        method: options.method,
        headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        timeout: options.timeoutMs,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          resolve({ status, ok: status >= 200 && status < 300, text, json: <T>() => JSON.parse(text) as T });
        });
        response.on("error", reject);
      },
    );
    request.on("timeout", () =>
      request.destroy(new Error(`${options.method} ${url}: no answer in ${options.timeoutMs} ms`)),
    );
    request.on("error", reject);
    request.end(payload);
  });
}
