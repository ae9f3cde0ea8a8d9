import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { REPOSITORY_ROOT } from "./podman.js";

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
}

/** compose.yaml with its anchors merged and `${VAR:-default}` replaced by the default. */
function compose(): Record<string, ComposeService> {
  const text = readFileSync(join(REPOSITORY_ROOT, "compose.yaml"), "utf8").replace(
    /\$\{[A-Z_]+:-([^}]*)\}/g,
    "$1",
  );
  return (parse(text, { merge: true }) as { services: Record<string, ComposeService> }).services;
}

/**
 * No compose engine runs on these machines (the container tests use podman directly), so this
 * checks what `docker compose config` would show: the topology the file promises, and settings
 * Floodgate accepts.
 */
describe("compose.yaml", () => {
  const services = compose();
  const floodgate = Object.entries(services).filter(([, service]) => service.image === "floodgate:local");

  it("has the whole topology: gateway, each service, two intakes, workers, Redis, NATS with JetStream, two shards", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        "gateway",
        "catalog",
        "sales",
        "inventory",
        "orders-intake-1",
        "orders-intake-2",
        "orders-worker",
        "payments",
        "fulfillment",
        "notifications",
        "loyalty",
        "payment-simulator",
        "migrate",
        "redis",
        "nats",
        "postgres-0",
        "postgres-1",
      ].sort(),
    );
    expect(services.gateway!.command).toEqual(["gateway"]);
    expect(services["orders-intake-1"]!.environment!.FLOODGATE_ORDERS_ROLE).toBe("intake");
    expect(services["orders-intake-2"]!.environment!.FLOODGATE_ORDERS_ROLE).toBe("intake");
    expect(services["orders-worker"]!.environment!.FLOODGATE_ORDERS_ROLE).toBe("worker");
    expect(services["orders-worker"]!.deploy!.replicas).toBeGreaterThanOrEqual(2);
    expect(services.nats!.command).toContain("--jetstream");
  });

  it("runs every Floodgate role from the one image, with settings Floodgate accepts", () => {
    expect(floodgate.length).toBe(13);
    for (const [name, service] of floodgate) {
      expect(service.build, name).toBeDefined();
      const config = loadConfig({ env: service.environment! });
      expect(config.databaseUrls, name).toHaveLength(2);
      expect(config.serviceUrls.get("orders"), name).toBe("http://intake-1:8080|http://intake-2:8080");
    }
  });

  it("starts the services after the migrations and the servers they need", () => {
    // The migrations themselves, and the payment simulator (a stand-in provider, no database or queue), need neither.
    for (const [name, service] of floodgate.filter(
      ([name]) => name !== "migrate" && name !== "payment-simulator",
    )) {
      expect(service.depends_on?.migrate?.condition, name).toBe("service_completed_successfully");
      expect(service.depends_on?.nats?.condition, name).toBe("service_healthy");
    }
  });
});
