import { afterAll, describe, expect, it } from "vitest";
import { infraRequired } from "../../support/infra.js";
import { redisBinariesAvailable, startRedisServer } from "../../support/redis-cluster.js";
import type { SpawnedServer } from "../../support/spawned-server.js";
import { startTestServer, type TestServer } from "../../support/test-server.js";

interface Lookups {
  [outcome: string]: number;
}

/** `floodgate_cache_lookups_total{level="l2"}` by outcome, from /metrics. */
async function l2Lookups(server: TestServer): Promise<Lookups> {
  const text = (await server.request<string>("GET", "/metrics")).body;
  const lookups: Lookups = {};
  for (const match of text.matchAll(
    /floodgate_cache_lookups_total\{cache="catalog",level="l2",outcome="(\w+)"\} (\d+)/g,
  )) {
    lookups[match[1]!] = Number(match[2]);
  }
  return lookups;
}

describe("reads when the shared cache dies and comes back", () => {
  const available = redisBinariesAvailable();
  if (!available && infraRequired)
    throw new Error("redis-server is not installed and FLOODGATE_REQUIRE_INFRA=1");
  let redis: SpawnedServer | undefined;
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.close();
    await redis?.kill();
  });

  it.skipIf(!available)(
    "stay correct (from the database) while Redis is down, and use it again once it is back",
    async () => {
      redis = await startRedisServer();
      server = await startTestServer({ cacheUrl: `redis://127.0.0.1:${redis.port}`, cacheWarmTop: "0" });
      const admin = { user: "admin", admin: true };
      const products: { id: string; name: string }[] = [];
      for (let i = 0; i < 20; i++) {
        const created = await server.request<{ id: string; name: string }>("POST", "/admin/products", {
          ...admin,
          body: { sku: `DEG-${i}`, name: `Degraded ${i}`, priceCents: i, currency: "EUR" },
        });
        products.push(created.body);
      }
      const readAll = async () => {
        for (const product of products) {
          const read = await server!.request<{ id: string; name: string }>("GET", `/products/${product.id}`);
          expect(read.status).toBe(200);
          expect(read.body.name).toBe(product.name);
        }
      };
      await readAll();
      expect((await l2Lookups(server)).hit ?? 0).toBe(0); // first reads filled L2 but were misses

      await redis.kill();
      // L1 entries expire after 5 s; read through that and beyond, with Redis gone.
      const downUntil = Date.now() + 6500;
      while (Date.now() < downUntil) {
        const started = Date.now();
        await readAll();
        expect(Date.now() - started).toBeLessThan(5000); // slower at worst, never hanging
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const whileDown = await l2Lookups(server);
      expect((whileDown.error ?? 0) + (whileDown.skipped ?? 0)).toBeGreaterThan(0);
      expect((await server.request("GET", "/healthz")).status).toBe(200);

      await redis.restart();
      // The breaker half-opens after 2 s; within a few more seconds reads use L2 again.
      const deadline = Date.now() + 15_000;
      let recovered = false;
      while (!recovered && Date.now() < deadline) {
        await readAll();
        const now = await l2Lookups(server);
        recovered = (now.hit ?? 0) > (whileDown.hit ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(recovered).toBe(true);
    },
  );
});
