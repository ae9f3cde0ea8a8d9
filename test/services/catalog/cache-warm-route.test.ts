import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../support/test-server.js";

describe("POST /admin/cache/warm", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ cacheWarmTop: "0" });
  });
  afterAll(() => server?.close());

  it("warms the most recently updated products in batches, streaming progress", async () => {
    const admin = { user: "admin", admin: true };
    for (let i = 0; i < 250; i++) {
      const created = await server.request("POST", "/admin/products", {
        ...admin,
        body: { sku: `WARM-${i}`, name: `Warm ${i}`, priceCents: i, currency: "EUR" },
      });
      expect(created.status).toBe(201);
    }
    const warm = await server.request<string>("POST", "/admin/cache/warm", { ...admin, body: { top: 250 } });
    expect(warm.status).toBe(200);
    expect(warm.headers["content-type"]).toBe("application/x-ndjson");
    const lines = String(warm.body)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      { warmed: 100, total: 250 },
      { warmed: 200, total: 250 },
      { warmed: 250, total: 250 },
      { done: true, total: 250 },
    ]);
    const metrics = String((await server.request<string>("GET", "/metrics")).body);
    const stored = /floodgate_cache_fills_total\{cache="catalog",outcome="stored"\} (\d+)/.exec(metrics);
    expect(Number(stored?.[1])).toBeGreaterThanOrEqual(500); // a product and its SKU each
  });

  it("answers 401 without an admin token, before any progress", async () => {
    const warm = await server.request("POST", "/admin/cache/warm", { body: { top: 5 } });
    expect(warm.status).toBe(401);
  });
});
