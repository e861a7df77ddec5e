import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prometheusToolBinary, promtool } from "@roadpulse/devstack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { catalogue, ROOT, roadpulseNamesIn, run, seriesNames } from "./support.js";

type Doc = Record<string, unknown> & { kind?: string; apiVersion?: string; metadata?: { name?: string } };

/** Every series name a node can export: the catalogue with histogram suffixes. */
async function exportedNames(): Promise<Set<string>> {
  return new Set((await catalogue()).flatMap(seriesNames));
}

function expectOnlyKnownMetrics(exprs: string[], known: Set<string>): void {
  const used = new Set(exprs.flatMap(roadpulseNamesIn));
  expect(used.size).toBeGreaterThan(0);
  for (const name of used) expect(known, `${name} is not exported by any node`).toContain(name);
}

describe("docker-compose.yml", () => {
  const env = { ...process.env, JWT_SECRET: "compose-test-secret-0123456789", GRAFANA_ADMIN_PASSWORD: "x" };
  // biome-ignore lint/suspicious/noExplicitAny: the resolved compose model is checked field by field below.
  let model: any;

  beforeAll(async () => {
    const result = await run("docker-compose", ["-f", "docker-compose.yml", "config"], { env });
    expect(result.code, result.stderr).toBe(0);
    model = parse(result.stdout);
  });

  it("passes docker-compose's own validation (config -q)", async () => {
    const version = await run("docker-compose", ["version", "--short"]);
    expect(version.code).toBe(0);
    const result = await run("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], { env });
    expect(result.code, result.stderr).toBe(0);
  });

  it("refuses to start without JWT_SECRET", async () => {
    const { JWT_SECRET: _unset, ...withoutSecret } = env;
    const result = await run("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], { env: withoutSecret });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("JWT_SECRET must be set");
  });

  it("has the shape the issue asks for", () => {
    const services = model.services as Record<
      string,
      Record<string, unknown> & { environment?: Record<string, string> }
    >;
    expect(Object.keys(services).sort()).toEqual(["api", "grafana", "mongo", "nginx", "prometheus", "redis"]);
    // Scalable API: no fixed name, no published port.
    expect(services.api?.container_name).toBeUndefined();
    expect(services.api?.ports).toBeUndefined();
    // Only nginx and Grafana publish ports.
    const publishing = Object.entries(services)
      .filter(([, service]) => service.ports !== undefined)
      .map(([name]) => name);
    expect(publishing.sort()).toEqual(["grafana", "nginx"]);
    for (const [name, service] of Object.entries(services)) expect(service.healthcheck, name).toBeDefined();
    expect(model.networks.backend.internal).toBe(true);
    // Environment from the contract.
    expect(services.api?.environment).toMatchObject({
      REDIS_URL: "redis://redis:6379",
      MONGODB_URI: "mongodb://mongo:27017/roadpulse?replicaSet=rs0",
      JWT_SECRET: env.JWT_SECRET,
    });
    // The seed's Redis memory limit and policy; MongoDB as a replica set.
    expect((services.redis?.command as string[]).join(" ")).toContain(
      "--maxmemory 256mb --maxmemory-policy allkeys-lru",
    );
    expect(services.redis?.image).toMatch(/^redis:7/);
    expect((services.mongo?.command as string[]).join(" ")).toContain("--replSet rs0");
    expect(services.mongo?.image).toMatch(/^mongo:7/);
  });

  it("ships an nginx entrypoint whose generated includes make nginx.conf valid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roadpulse-ops-nginx-"));
    try {
      const script = join(ROOT, "deploy/nginx/40-roadpulse-upstreams.sh");
      const result = await run("sh", [script, "--once"], {
        env: {
          ...process.env,
          NGINX_CONF_DIR: dir,
          UPSTREAM_SERVICE: "localhost",
          UPSTREAM_PORT: "5999",
          LISTEN_PORT: "8080",
        },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(join(dir, "upstream-servers.conf"), "utf8")).toContain("server 127.0.0.1:5999 max_fails=1");
      expect(readFileSync(join(dir, "listen.conf"), "utf8").trim()).toBe("listen 8080;");
      copyFileSync(join(ROOT, "nginx.conf"), join(dir, "nginx.conf"));
      // Same listen port as in the container, but on loopback and never bound: `-t` only parses.
      writeFileSync(join(dir, "listen.conf"), "listen 127.0.0.1:8080;\n");
      const check = await run("/usr/sbin/nginx", [
        "-t",
        "-p",
        `${dir}/`,
        "-c",
        join(dir, "nginx.conf"),
        "-g",
        `daemon off; pid ${dir}/nginx.pid; error_log stderr warn;`,
      ]);
      expect(check.code, check.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Kubernetes manifests", () => {
  const k8sDir = join(ROOT, "deploy/k8s");
  const kustomization = parse(readFileSync(join(k8sDir, "kustomization.yaml"), "utf8")) as { resources: string[] };
  const files = kustomization.resources.map((file) => join(k8sDir, file));
  const docs: Doc[] = files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8"))
      .map((doc) => doc.toJS() as Doc | null)
      .filter((doc): doc is Doc => doc !== null),
  );
  const toolDir = mkdtempSync(join(tmpdir(), "roadpulse-ops-k8s-"));
  const strict = join(toolDir, "k8s-strict");
  afterAll(() => rmSync(toolDir, { recursive: true, force: true }));

  beforeAll(async () => {
    // tools/k8s-strict: the API's own Go types with strict decoding (see its main.go).
    const build = await run("go", ["build", "-o", strict, "."], {
      cwd: join(ROOT, "tools/k8s-strict"),
      timeoutMs: 300_000,
    });
    expect(build.code, build.stderr).toBe(0);
  }, 300_000);

  it("lists only files that exist in kustomization.yaml", () => {
    for (const file of files) expect(existsSync(file), file).toBe(true);
  });

  it("decode strictly into the Kubernetes API types (unknown fields are errors)", async () => {
    const result = await run(strict, files);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    const kinds = result.stdout.split("\n").filter((line) => line.startsWith("ok "));
    expect(kinds).toHaveLength(docs.length);
    for (const kind of [
      "Deployment",
      "Service",
      "HorizontalPodAutoscaler",
      "PodDisruptionBudget",
      "ConfigMap",
      "Secret",
      "Ingress",
    ]) {
      expect(result.stdout).toContain(`Kind=${kind}`);
    }
  });

  it("the strict decoder does reject a misspelt field (the check has teeth)", async () => {
    const broken = readFileSync(join(k8sDir, "deployment.yaml"), "utf8").replace("readinessProbe:", "readynessProbe:");
    const file = join(toolDir, "broken.yaml");
    writeFileSync(file, broken);
    const result = await run(strict, [file]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('unknown field "spec.template.spec.containers[0].readynessProbe"');
  });

  it("pass the kubernetes-models JSON-schema validation (required fields, types, formats)", async () => {
    const modules: Record<string, string> = {
      "v1/Namespace": "kubernetes-models/v1",
      "v1/ConfigMap": "kubernetes-models/v1",
      "v1/Secret": "kubernetes-models/v1",
      "v1/Service": "kubernetes-models/v1",
      "apps/v1/Deployment": "kubernetes-models/apps/v1",
      "autoscaling/v2/HorizontalPodAutoscaler": "kubernetes-models/autoscaling/v2",
      "policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1",
      "networking.k8s.io/v1/Ingress": "kubernetes-models/networking.k8s.io/v1",
    };
    for (const doc of docs) {
      const key = `${doc.apiVersion}/${doc.kind}`;
      const path = modules[key];
      expect(path, `no model for ${key}`).toBeDefined();
      const module = (await import(path as string)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = module[doc.kind as string];
      expect(Model, key).toBeDefined();
      expect(() => new (Model as new (data: unknown) => { validate(): void })(doc).validate(), key).not.toThrow();
    }
  });

  it("probe /health, run as non-root, scale with an HPA and hash /socket.io/ on deviceId", () => {
    // biome-ignore lint/suspicious/noExplicitAny: navigating parsed manifests.
    const find = (kind: string): any[] => docs.filter((doc) => doc.kind === kind);
    const [deployment] = find("Deployment");
    const container = deployment.spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe("/health");
    expect(container.livenessProbe.httpGet.path).toBe("/health");
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.envFrom.map((source: Record<string, unknown>) => Object.keys(source)[0]).sort()).toEqual([
      "configMapRef",
      "secretRef",
    ]);
    expect(deployment.spec.template.metadata.annotations["prometheus.io/scrape"]).toBe("true");
    // Metrics on their own port, which the Service (and so the ingress) does not expose.
    const metricsPort = container.ports.find((port: { name: string }) => port.name === "metrics").containerPort;
    expect(deployment.spec.template.metadata.annotations["prometheus.io/port"]).toBe(String(metricsPort));
    const [service] = find("Service");
    expect(service.spec.ports.map((port: { targetPort: string }) => port.targetPort)).toEqual(["http"]);
    const [hpa] = find("HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    const socketIngress = find("Ingress").find((ingress) => ingress.spec.rules[0].http.paths[0].path === "/socket.io/");
    expect(socketIngress.metadata.annotations["nginx.ingress.kubernetes.io/upstream-hash-by"]).toBe("$arg_deviceId");
    expect(
      Number(socketIngress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]),
    ).toBeGreaterThan(45);
  });
});

describe("Prometheus and Grafana files", () => {
  const promDir = join(ROOT, "deploy/prometheus");

  it("prometheus.yml (compose, DNS discovery) passes promtool check config, rules included", async () => {
    const result = await promtool(["check", "config", join(promDir, "prometheus.yml")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("SUCCESS: 1 rule files found");
    expect(readFileSync(join(promDir, "prometheus.yml"), "utf8")).toContain("dns_sd_configs");
  });

  it("prometheus-k8s.yml passes upstream promtool check config (Debian's lacks Kubernetes discovery)", async () => {
    const install = await run("bash", [join(ROOT, "scripts/lib/install-promtool-upstream.sh")], { timeoutMs: 900_000 });
    expect(install.code, install.stderr).toBe(0);
    const upstream = install.stdout.trim();
    const result = await run(upstream, ["check", "config", join(promDir, "prometheus-k8s.yml")]);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toContain("SUCCESS: 1 rule files found");
  }, 900_000);

  it("the alert rules pass promtool check rules and their unit tests, and use only exported metrics", async () => {
    const rulesFile = join(promDir, "rules/roadpulse.rules.yml");
    const check = await promtool(["check", "rules", rulesFile]);
    expect(check.code, check.output).toBe(0);
    const tests = await promtool(["test", "rules", join(promDir, "tests/roadpulse.rules.test.yml")]);
    expect(tests.code, tests.output).toBe(0);
    const rules = parse(readFileSync(rulesFile, "utf8")) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string; annotations: Record<string, string> }> }>;
    };
    const all = rules.groups.flatMap((group) => group.rules);
    for (const rule of all) {
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
    }
    expectOnlyKnownMetrics(
      all.map((rule) => rule.expr),
      await exportedNames(),
    );
    expect(prometheusToolBinary("promtool")).toMatch(/promtool$/);
  });

  it("the Grafana dashboard parses, uses the provisioned data source and only exported metrics", async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/dashboards/roadpulse.json"), "utf8")) as {
      panels: Array<{
        type: string;
        panels?: unknown[];
        datasource?: { uid: string };
        targets?: Array<{ expr: string }>;
      }>;
      templating: { list: Array<{ query: { query: string } | string }> };
    };
    const panels = dashboard.panels.flatMap((panel) => [panel, ...((panel.panels ?? []) as typeof dashboard.panels)]);
    const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const variableQueries = dashboard.templating.list.map((v) =>
      typeof v.query === "string" ? v.query : v.query.query,
    );
    expectOnlyKnownMetrics([...exprs, ...variableQueries], await exportedNames());

    const datasource = parse(
      readFileSync(join(ROOT, "deploy/grafana/provisioning/datasources/prometheus.yml"), "utf8"),
    ) as {
      datasources: Array<{ uid: string }>;
    };
    const uid = datasource.datasources[0]?.uid;
    for (const panel of panels.filter((p) => p.type !== "row")) expect(panel.datasource?.uid).toBe(uid);

    // What the issue asks the dashboard to show.
    const text = exprs.join("\n");
    for (const name of [
      "roadpulse_connected_sockets",
      "roadpulse_socket_events_total",
      "roadpulse_ack_duration_seconds_bucket",
      "roadpulse_redis_command_duration_seconds_bucket",
      "roadpulse_mongodb_write_duration_seconds_bucket",
      "roadpulse_degraded",
      "roadpulse_observations_total",
      "roadpulse_hazard_transitions_total",
    ]) {
      expect(text).toContain(name);
    }
  });
});
