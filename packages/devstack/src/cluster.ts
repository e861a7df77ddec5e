import { join } from "node:path";
import { type NginxInstance, startNginx } from "./nginx.js";
import { type NodeProcess, startNodeProcess } from "./node-process.js";
import { freePort } from "./ports.js";

export interface ClusterOptions {
  nodes: number;
  /** Ports of the nodes; free ones are picked when omitted. */
  nodePorts?: number[];
  lbPort?: number;
  redisUrl: string;
  mongoUri: string;
  /** Extra environment for every node (WORKERS, ADAPTER_CHANNEL_PREFIX, LOG_LEVEL…). */
  env?: NodeJS.ProcessEnv;
  dir: string;
  output: (nodeId: string) => string | "inherit-prefixed" | "ignore";
  nodeIdPrefix?: string;
}

/** N RoadPulse node processes behind nginx, all sharing one Redis and one MongoDB. */
export class Cluster {
  private constructor(
    readonly options: ClusterOptions,
    readonly nodes: Array<NodeProcess | undefined>,
    readonly nginx: NginxInstance,
    private readonly ports: number[],
  ) {}

  /** The balancer's URL: where devices, k6 and curl connect. */
  get url(): string {
    return this.nginx.url;
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const ports = options.nodePorts ?? (await Promise.all(Array.from({ length: options.nodes }, () => freePort())));
    const nodes: NodeProcess[] = [];
    try {
      for (let i = 0; i < options.nodes; i++) nodes.push(await Cluster.#startNode(options, i, ports[i] as number));
      const nginx = await startNginx({
        port: options.lbPort ?? (await freePort()),
        upstreams: ports.map((port) => `127.0.0.1:${port}`),
        dir: join(options.dir, "nginx"),
        output: options.output("nginx"),
      });
      return new Cluster(options, nodes, nginx, ports);
    } catch (error) {
      await Promise.allSettled(nodes.map((node) => node.service.kill()));
      throw error;
    }
  }

  static #startNode(options: ClusterOptions, index: number, port: number): Promise<NodeProcess> {
    const nodeId = `${options.nodeIdPrefix ?? "node"}-${index + 1}`;
    return startNodeProcess({
      nodeId,
      port,
      env: { ...options.env, REDIS_URL: options.redisUrl, MONGODB_URI: options.mongoUri },
      output: options.output(nodeId),
    });
  }

  node(index: number): NodeProcess {
    const node = this.nodes[index];
    if (!node) throw new Error(`node ${index + 1} is not running`);
    return node;
  }

  /** SIGKILL: the node gets no chance to clean up, as in a crash or an OOM kill. */
  async kill(index: number): Promise<void> {
    await this.node(index).service.kill();
    this.nodes[index] = undefined;
  }

  /** Starts node `index` again on its old port (nginx's upstream list stays the same). */
  async restart(index: number): Promise<NodeProcess> {
    const node = await Cluster.#startNode(this.options, index, this.ports[index] as number);
    this.nodes[index] = node;
    return node;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node?.service.stop("SIGTERM", 10_000)));
    await this.nginx.stop();
  }
}
