import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { type Manifest, render } from "./kustomize.js";

/** The schema model of each kind the manifests use: Kubernetes' own, and KEDA's ScaledObject. */
// biome-ignore lint/suspicious/noExplicitAny: each model takes its own kind's shape.
type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, () => Promise<Model>> = {
  "v1/ConfigMap": async () => (await import("kubernetes-models/v1/ConfigMap")).ConfigMap,
  "v1/Secret": async () => (await import("kubernetes-models/v1/Secret")).Secret,
  "v1/Service": async () => (await import("kubernetes-models/v1/Service")).Service,
  "apps/v1/Deployment": async () => (await import("kubernetes-models/apps/v1/Deployment")).Deployment,
  "policy/v1/PodDisruptionBudget": async () =>
    (await import("kubernetes-models/policy/v1/PodDisruptionBudget")).PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": async () =>
    (await import("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler")).HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": async () =>
    (await import("kubernetes-models/networking.k8s.io/v1/NetworkPolicy")).NetworkPolicy,
  "keda.sh/v1alpha1/ScaledObject": async () =>
    (await import("@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject")).ScaledObject,
};

const ROLES = [
  "gateway",
  "catalog",
  "sales",
  "inventory",
  "orders-intake",
  "orders-worker",
  "payments",
  "fulfillment",
  "notifications",
  "loyalty",
];
const floodgate = (manifest: Manifest) =>
  manifest.metadata.labels?.["app.kubernetes.io/part-of"] === "floodgate";

describe.each(["base", "overlays/dev", "overlays/prod"])("deploy/k8s/%s", (directory) => {
  const manifests = render(directory);
  const of = (kind: string) => manifests.filter((manifest) => manifest.kind === kind);

  it("renders, and every object validates against its API schema", async () => {
    expect(manifests.length).toBeGreaterThan(20);
    for (const manifest of manifests) {
      const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(model, `no schema for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
      const Model = await model!();
      expect(
        () => new Model(manifest).validate(),
        `${manifest.kind}/${manifest.metadata.name}`,
      ).not.toThrow();
    }
  });

  it("has a Deployment, a Service and a disruption budget per role, each labelled as operators expect", () => {
    const deployments = of("Deployment").filter(floodgate);
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...ROLES].sort());
    for (const name of ROLES) {
      expect(
        of("Service").some((s) => s.metadata.name === name),
        `Service ${name}`,
      ).toBe(true);
      expect(
        of("PodDisruptionBudget").some((p) => p.metadata.name === name),
        `PDB ${name}`,
      ).toBe(true);
    }
    for (const deployment of deployments) {
      expect(deployment.spec.template.metadata.labels).toMatchObject({
        "app.kubernetes.io/name": deployment.metadata.name,
        "app.kubernetes.io/part-of": "floodgate",
      });
    }
  });

  it("runs every pod non-root on a read-only root filesystem, with probes, resources and time to drain", () => {
    for (const deployment of of("Deployment").filter(floodgate)) {
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      const name = deployment.metadata.name;
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      expect(container.securityContext, name).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
      expect(container.startupProbe.httpGet.path, name).toBe("/healthz");
      expect(container.livenessProbe.httpGet.path, name).toBe("/healthz");
      expect(container.readinessProbe.httpGet.path, name).toBe("/readyz");
      expect(container.resources.requests && container.resources.limits, name).toBeTruthy();
      // The grace period must outlast the drain and the shutdown timeout the ConfigMap sets.
      const config = of("ConfigMap").find((c) => c.metadata.name === "floodgate-config")!.data!;
      const needed =
        (Number(config.FLOODGATE_SHUTDOWN_DRAIN_MS) + Number(config.FLOODGATE_SHUTDOWN_TIMEOUT_MS)) / 1000;
      expect(pod.terminationGracePeriodSeconds, name).toBeGreaterThan(needed);
    }
  });

  it("scales the gateway and the intakes on CPU, the order workers on JetStream consumer lag", () => {
    expect(
      of("HorizontalPodAutoscaler")
        .map((h) => h.spec.scaleTargetRef.name)
        .sort(),
    ).toEqual(["gateway", "orders-intake"]);
    const [scaled] = of("ScaledObject");
    expect(scaled!.spec.scaleTargetRef.name).toBe("orders-worker");
    expect(scaled!.spec.triggers[0]).toMatchObject({
      type: "nats-jetstream",
      metadata: { stream: "FLOODGATE_orders~requested", consumer: "order-writers" },
    });
  });

  it("lets traffic from outside reach the gateway only", () => {
    const policies = of("NetworkPolicy");
    expect(policies.some((p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress)).toBe(true);
    const open = policies.filter((p) =>
      p.spec.ingress?.some((rule: { from?: unknown }) => rule.from === undefined),
    );
    expect(open.map((p) => p.spec.podSelector.matchLabels?.["app.kubernetes.io/name"])).toEqual(["gateway"]);
    const services = of("Service").filter(floodgate);
    expect(services.filter((s) => s.spec.clusterIP !== "None").map((s) => s.metadata.name)).toEqual([
      "gateway",
    ]);
  });

  it("configures only settings Floodgate knows, with values it accepts", () => {
    const config = of("ConfigMap").find((c) => c.metadata.name === "floodgate-config")!.data!;
    const secret = of("Secret").find((s) => s.metadata.name === "floodgate-secrets")?.stringData ?? {};
    expect(() => loadConfig({ env: { ...config, ...secret } })).not.toThrow();
  });
});
