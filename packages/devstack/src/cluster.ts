import { join } from "node:path";
import { type NginxInstance, startNginx } from "./nginx.js";
import { type NodeProcess, startNodeProcess } from "./node-process.js";
import { freePort } from "./ports.js";

export interface ClusterOptions {
  nodes: number;
  /** Ports of the nodes; free ones are picked when omitted. */
  nodePorts?: number[];
  /** Each node's metrics port; free ports when absent. */
  metricsPorts?: number[];
  lbPort?: number;
  redisUrl: string;
  mongoUri: string;
  /** Extra environment for every node (WORKERS, ADAPTER_CHANNEL_PREFIX, LOG_LEVEL…). */
  env?: NodeJS.ProcessEnv;
  dir: string;
  output: (nodeId: string) => string | "inherit-prefixed" | "ignore";
  nodeIdPrefix?: string;
  /**
   * Restart a node that exits on its own (a crash, an OOM kill, `kill -9` by hand), with back-off,
   * and say so through `log`. Nodes stopped or killed through this class stay down.
   */
  supervise?: { log: (line: string) => void };
}

/** Back-off of restarts: 0.5 s doubling to 10 s; a node that stayed up 30 s starts over at 0.5 s. */
const RESTART_FIRST_DELAY_MS = 500;
const RESTART_MAX_DELAY_MS = 10_000;
const RESTART_RESET_AFTER_MS = 30_000;

/** N RoadPulse node processes behind nginx, all sharing one Redis and one MongoDB. */
export class Cluster {
  #stopping = false;
  /** Consecutive quick deaths per node index (the restart back-off). */
  readonly #crashes = new Map<number, number>();
  /** Restarts under way, so `stop()` can wait for them and stop what they start. */
  readonly #restarts = new Set<Promise<unknown>>();
  /** Indexes of the nodes in nginx's upstream list (a killed node stays in it: it comes back). */
  readonly #inRotation: Set<number>;

  private constructor(
    readonly options: ClusterOptions,
    readonly nodes: Array<NodeProcess | undefined>,
    readonly nginx: NginxInstance,
    private readonly ports: number[],
    /** Each node's metrics port (METRICS_PORT), kept across its restarts like its API port. */
    private readonly metricsPorts: number[],
  ) {
    this.#inRotation = new Set(nodes.map((_, index) => index));
    nodes.forEach((node, index) => {
      if (node) this.#supervise(index, node);
    });
  }

  /** The balancer's URL: where devices, the simulator and curl connect. */
  get url(): string {
    return this.nginx.url;
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const ports = options.nodePorts ?? (await Promise.all(Array.from({ length: options.nodes }, () => freePort())));
    const metricsPorts =
      options.metricsPorts ?? (await Promise.all(Array.from({ length: options.nodes }, () => freePort())));
    const nodes: NodeProcess[] = [];
    try {
      for (let i = 0; i < options.nodes; i++) {
        nodes.push(await Cluster.#startNode(options, i, ports[i] as number, metricsPorts[i] as number));
      }
      const nginx = await startNginx({
        port: options.lbPort ?? (await freePort()),
        upstreams: ports.map((port) => `127.0.0.1:${port}`),
        dir: join(options.dir, "nginx"),
        output: options.output("nginx"),
      });
      return new Cluster(options, nodes, nginx, ports, metricsPorts);
    } catch (error) {
      await Promise.allSettled(nodes.map((node) => node.service.kill()));
      throw error;
    }
  }

  static #startNode(options: ClusterOptions, index: number, port: number, metricsPort: number): Promise<NodeProcess> {
    const nodeId = `${options.nodeIdPrefix ?? "node"}-${index + 1}`;
    return startNodeProcess({
      nodeId,
      port,
      metricsPort,
      env: { ...options.env, REDIS_URL: options.redisUrl, MONGODB_URI: options.mongoUri },
      output: options.output(nodeId),
    });
  }

  node(index: number): NodeProcess {
    const node = this.nodes[index];
    if (!node) throw new Error(`node ${index + 1} is not running`);
    return node;
  }

  /** SIGKILL: the node gets no chance to clean up, as in a crash or an OOM kill. It stays down. */
  async kill(index: number): Promise<void> {
    const node = this.node(index);
    this.nodes[index] = undefined;
    await node.service.kill();
  }

  /**
   * Scale out: starts one more node on a free port, then adds it to nginx's upstream list
   * (`nginx -s reload`: connections in flight are kept). Returns its index.
   */
  async addNode(): Promise<number> {
    const index = this.nodes.length;
    const [port, metricsPort] = [await freePort(), await freePort()];
    this.ports[index] = port;
    this.metricsPorts[index] = metricsPort;
    const node = await Cluster.#startNode(this.options, index, port, metricsPort);
    this.nodes[index] = node;
    this.#supervise(index, node);
    this.#inRotation.add(index);
    await this.#reloadUpstreams();
    return index;
  }

  /**
   * Scale in: takes node `index` out of nginx's upstream list (reload), then stops it as a
   * deployment would (SIGTERM: it disconnects its devices, which reconnect through nginx to the
   * others). It stays down.
   */
  async removeNode(index: number): Promise<void> {
    const node = this.node(index);
    this.#inRotation.delete(index);
    await this.#reloadUpstreams();
    this.nodes[index] = undefined;
    await node.service.stop("SIGTERM", 10_000);
  }

  async #reloadUpstreams(): Promise<void> {
    const ports = [...this.#inRotation].sort((a, b) => a - b).map((index) => this.ports[index]);
    await this.nginx.setUpstreams(ports.map((port) => `127.0.0.1:${port}`));
  }

  /** Starts node `index` again on its old port (nginx's upstream list stays the same). */
  async restart(index: number): Promise<NodeProcess> {
    const node = await Cluster.#startNode(
      this.options,
      index,
      this.ports[index] as number,
      this.metricsPorts[index] as number,
    );
    this.nodes[index] = node;
    this.#supervise(index, node);
    return node;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#restarts]);
    const nodes = this.nodes.splice(0, this.nodes.length, ...this.nodes.map(() => undefined));
    await Promise.allSettled(nodes.map((node) => node?.service.stop("SIGTERM", 10_000)));
    await this.nginx.stop();
  }

  /** With `supervise`, restarts node `index` when it exits while still registered as running. */
  #supervise(index: number, node: NodeProcess): void {
    if (!this.options.supervise) return;
    const startedAt = Date.now();
    void node.service.exited.then((code) => {
      if (this.#stopping || this.nodes[index] !== node) return;
      this.nodes[index] = undefined;
      const quick = Date.now() - startedAt < RESTART_RESET_AFTER_MS;
      const how = code === null ? "was killed by a signal" : `exited with code ${code}`;
      const restart = this.#bringBack(index, quick ? (this.#crashes.get(index) ?? 0) + 1 : 1, `${node.nodeId} ${how}`);
      this.#restarts.add(restart);
      void restart.finally(() => this.#restarts.delete(restart));
    });
  }

  async #bringBack(index: number, firstCrash: number, what: string): Promise<void> {
    const log = this.options.supervise?.log ?? (() => {});
    for (let crashes = firstCrash; !this.#stopping; crashes++) {
      this.#crashes.set(index, crashes);
      const delayMs = Math.min(RESTART_FIRST_DELAY_MS * 2 ** (crashes - 1), RESTART_MAX_DELAY_MS);
      log(`${what}; restarting it in ${delayMs / 1000} s (attempt ${crashes} in a row)`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.#stopping || this.nodes[index] !== undefined) return;
      try {
        const fresh = await this.restart(index);
        log(`${fresh.nodeId} is serving again on ${fresh.url}`);
        return;
      } catch (error) {
        what = `restart failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
      }
    }
  }
}
