import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { tokenServiceFor } from "../../src/runtime/platform.js";
import { createServiceClients, internalApiUrls } from "../../src/runtime/service-clients.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** Internal routes (service-to-service) are never on the public port in production. */
describe("the internal API's listener", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** Production, with every service here (payments calling a provider that is never reached). */
  const production = {
    env: "production",
    authSecret: "i".repeat(40),
    paymentProviderUrl: "http://127.0.0.1:9",
  };

  const levels = async (baseUrl: string, token: string) =>
    (
      await fetch(`${baseUrl}/internal/inventory/levels`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ sku: "NONE" }),
      })
    ).status;

  it("serves /internal/* only on FLOODGATE_INTERNAL_PORT when it is set", async () => {
    server = await startTestServer({ ...production, internalPort: "0" });
    const token = server.running.platform.tokens.issue({ userId: "svc", service: true });
    expect(server.running.internalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await levels(server.running.internalUrl!, token)).toBe(200);
    expect(await levels(server.url, token)).toBe(404);
  }, 60_000);

  it("serves it nowhere in production when every service is in this process and no port is set", async () => {
    server = await startTestServer(production);
    const token = server.running.platform.tokens.issue({ userId: "svc", service: true });
    expect(server.running.internalUrl).toBeUndefined();
    expect(await levels(server.url, token)).toBe(404);
  }, 60_000);

  it("serves it on the public port in development (one process, no private network to speak of)", async () => {
    server = await startTestServer();
    const token = server.running.platform.tokens.issue({ userId: "svc", service: true });
    expect(await levels(server.url, token)).toBe(200);
  }, 60_000);
});

describe("calling another process's internal API", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const secret = "s".repeat(40);
  /** A client in a process hosting only sales, configured by `overrides`, asking catalog for a product. */
  const askCatalog = async (overrides: Record<string, string>) => {
    const config = loadConfig({
      env: {},
      overrides: { services: "sales", env: "production", authSecret: secret, ...overrides },
    });
    const { clients, close } = createServiceClients(config, tokenServiceFor(config), new Map());
    try {
      return await clients.catalog.productBySku({ sku: "NO-SUCH-SKU" });
    } finally {
      await close();
    }
  };

  it("reaches it on the host of FLOODGATE_SERVICE_URLS at FLOODGATE_INTERNAL_PORT, or at FLOODGATE_INTERNAL_SERVICE_URLS", async () => {
    server = await startTestServer({
      services: "catalog",
      env: "production",
      authSecret: secret,
      internalPort: "0",
    });
    const internalPort = new URL(server.running.internalUrl!).port;
    // The public URL, with the deployment's internal port: the one-port-per-deployment convention.
    await expect(askCatalog({ serviceUrls: `catalog=${server.url}`, internalPort })).resolves.toBeNull();
    // An explicit internal URL, for processes whose internal ports differ (several on one host).
    await expect(
      askCatalog({
        serviceUrls: `catalog=${server.url}`,
        internalServiceUrls: `catalog=${server.running.internalUrl}`,
      }),
    ).resolves.toBeNull();
    // The public port serves no internal route in production: the call fails instead of reaching it.
    await expect(askCatalog({ serviceUrls: `catalog=${server.url}` })).rejects.toThrow();
  }, 60_000);
});

describe("internalApiUrls", () => {
  it("moves every instance to the internal port, and leaves the URLs alone without one", () => {
    expect(internalApiUrls("http://a:8080|http://b:8080", 8081)).toBe("http://a:8081|http://b:8081");
    expect(internalApiUrls("http://a:8080", undefined)).toBe("http://a:8080");
  });
});
