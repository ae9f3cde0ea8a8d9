import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { openReservationBook } from "../../../src/platform/reservations/open-reservation-book.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { redisBinariesAvailable, startRedisCluster, startRedisServer } from "../../support/redis-cluster.js";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

interface OrderAnswer {
  orderId?: string;
  error?: { code: string };
}

/** The value of one Prometheus counter series in a /metrics text, 0 when absent. */
function counter(metrics: string, series: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("inventory with live stock in Redis", async () => {
  const up = await serverAvailable("redis");
  const prefix = `test-stock-${randomUUID().slice(0, 8)}:`;
  const redis = up ? new Redis(servers.redis.url) : undefined;
  const started: TestServer[] = [];
  // Each server has a database of its own, so each gets a Redis namespace of its own too: inventory
  // processes sharing a Redis must share the database of record.
  const prefixes = new Map<TestServer, string>();
  const stockKey = (server: TestServer, key: string) => `${prefixes.get(server)}stock:${key}`;
  const start = async (overrides: Record<string, string> = {}) => {
    const stockPrefix = `${prefix}${started.length}:`;
    const server = await startTestServer({ stockUrl: servers.redis.url, stockPrefix, ...overrides });
    prefixes.set(server, stockPrefix);
    started.push(server);
    return server;
  };
  const internal = async <T>(server: TestServer, operation: string, body: unknown) => {
    const token = server.running.platform.tokens.issue({ userId: "test", service: true });
    const response = await server.request<{ result: T }>("POST", `/internal/inventory/${operation}`, {
      body,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    return response.body.result;
  };
  const buy = (server: TestServer, user: string, sku: string, key = `k-${user}`) =>
    server.request<OrderAnswer>("POST", "/orders", {
      user,
      headers: { "idempotency-key": key },
      body: { sku, quantity: 1 },
    });
  const metricsOf = async (server: TestServer) => (await server.request<string>("GET", "/metrics")).body;

  afterAll(async () => {
    for (const server of started) await server.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it.skipIf(!up)(
    "sells exactly the stock, then refuses from the sold-out flag without asking the inventory",
    async () => {
      const server = await start();
      await openSale(server, { sku: "REDIS-1", stock: 40, perUserLimit: 1 });
      const first = await Promise.all(
        Array.from({ length: 400 }, (_, i) => buy(server, `a-${i}`, "REDIS-1")),
      );
      const accepted = first.filter((r) => r.status === 202).map((r) => r.body.orderId!);
      expect(accepted).toHaveLength(40);
      expect(first.filter((r) => r.body.error?.code === "sold_out")).toHaveLength(360);
      // Redis holds the stock: its sale hash says so.
      expect(await redis!.hget(stockKey(server, "{REDIS-1}:sale"), "reserved")).not.toBeNull();

      // The flag is up: new buyers (keyed requests, surely not replays by the holders' filter) are
      // refused in the intake. At most one request per second re-checks with the inventory.
      const askedBefore = counter(
        await metricsOf(server),
        'floodgate_inventory_reservations_total{outcome="sold_out"}',
      );
      const later = await Promise.all(
        Array.from({ length: 300 }, (_, i) => buy(server, `b-${i}`, "REDIS-1")),
      );
      expect(later.every((r) => r.status === 409 && r.body.error?.code === "sold_out")).toBe(true);
      const metrics = await metricsOf(server);
      expect(
        counter(metrics, 'floodgate_orders_intake_total{outcome="sold_out_flag"}'),
      ).toBeGreaterThanOrEqual(295);
      expect(
        counter(metrics, 'floodgate_inventory_reservations_total{outcome="sold_out"}') - askedBefore,
      ).toBeLessThanOrEqual(5);

      // A holder's replay is not refused by the flag: it gets its order back.
      const holderIndex = first.findIndex((r) => r.status === 202);
      const replay = await buy(server, `a-${holderIndex}`, "REDIS-1");
      expect(replay.status).toBe(202);
      expect(replay.body.orderId).toBe(first[holderIndex]!.body.orderId);

      await eventually(
        async () => (await internal<{ sold: number }>(server, "levels", { sku: "REDIS-1" })).sold === 40,
        30_000,
        "every order stored and confirmed",
      );
      const report = await server.request<{ drift: unknown[] }>("GET", "/admin/stock/reconciliation", {
        user: "ops",
        admin: true,
      });
      expect(report.status).toBe(200);
      expect(report.body.drift).toEqual([]);
    },
  );

  it.skipIf(!up)(
    "rebuilds a SKU from the database when Redis lost it, and still never oversells",
    async () => {
      const server = await start();
      await openSale(server, { sku: "REDIS-2", stock: 5, perUserLimit: 1 });
      const firstOrders: (string | undefined)[] = [];
      for (const user of ["c-0", "c-1", "c-2"])
        firstOrders.push((await buy(server, user, "REDIS-2")).body.orderId);
      await redis!.del(...(await redis!.keys(stockKey(server, "{REDIS-2}:*"))));
      // The restored reservations still hold their users' allowance and keys.
      expect((await buy(server, "c-0", "REDIS-2", "another-key")).body.error?.code).toBe("limit_exceeded");
      expect((await buy(server, "c-1", "REDIS-2")).body.orderId).toBe(firstOrders[1]);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => buy(server, `d-${i}`, "REDIS-2")),
      );
      expect(answers.filter((r) => r.status === 202)).toHaveLength(2);
      expect(await internal(server, "levels", { sku: "REDIS-2" })).toMatchObject({ stock: 5, available: 0 });
    },
  );

  it.skipIf(!up)(
    "keeps orders queued while Redis lost its data: each is stored, none cancelled",
    async () => {
      // A slow worker keeps the accepted orders waiting in the queue when Redis loses the SKU.
      const server = await start({ orderWriteRate: "2", orderBatchSize: "1" });
      await openSale(server, { sku: "REDIS-5", stock: 4, perUserLimit: 1 });
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => buy(server, `h-${i}`, "REDIS-5")),
      );
      const accepted = answers.filter((r) => r.status === 202).map((r) => r.body.orderId!);
      expect(accepted).toHaveLength(4);
      await redis!.del(...(await redis!.keys(stockKey(server, "{REDIS-5}:*"))));
      await eventually(
        async () => {
          const page = await server.request<{ items: { id: string; status: string }[] }>(
            "GET",
            "/admin/orders?limit=100",
            { user: "ops", admin: true },
          );
          const mine = page.body.items.filter((o) => accepted.includes(o.id));
          return mine.length === 4 && mine.every((o) => o.status === "created");
        },
        30_000,
        "every queued order stored as created",
      );
      expect(await internal(server, "levels", { sku: "REDIS-5" })).toMatchObject({
        available: 0,
        reserved: 0,
        sold: 4,
      });
      const report = await internal<{ drift: { sku: string }[] }>(server, "reconcile", {});
      expect(report.drift.filter((d) => d.sku === "REDIS-5")).toEqual([]);
    },
  );

  it.skipIf(!up)(
    "reloads a sale an older version wrote (no holders filter) instead of refusing its buyers",
    async () => {
      const server = await start();
      await openSale(server, { sku: "REDIS-OLD", stock: 10, perUserLimit: 2 });
      expect((await buy(server, "old-0", "REDIS-OLD")).status).toBe(202);
      await eventually(
        async () => (await internal<{ sold: number }>(server, "levels", { sku: "REDIS-OLD" })).sold === 1,
        30_000,
        "the order stored",
      );
      // As stock-define-1.lua and stock-load-6.lua left a sale before the holders filter existed.
      await redis!.hdel(stockKey(server, "{REDIS-OLD}:sale"), "hbits", "hk");
      expect((await buy(server, "old-1", "REDIS-OLD")).status).toBe(202);
      expect(await redis!.hget(stockKey(server, "{REDIS-OLD}:sale"), "hbits")).not.toBeNull();
      await eventually(
        async () => (await internal<{ sold: number }>(server, "levels", { sku: "REDIS-OLD" })).sold === 2,
        30_000,
        "both orders stored, none sold twice",
      );
    },
  );

  it.skipIf(!up)(
    "reports drift between Redis and the database, then reloads the SKU from the database",
    async () => {
      const server = await start();
      await openSale(server, { sku: "REDIS-3", stock: 10, perUserLimit: 2 });
      expect((await buy(server, "e-0", "REDIS-3")).status).toBe(202);
      await eventually(
        async () => (await internal<{ sold: number }>(server, "levels", { sku: "REDIS-3" })).sold === 1,
        30_000,
        "the order stored",
      );
      // Someone changes Redis behind Floodgate's back: three units it will no longer sell.
      await redis!.hincrby(stockKey(server, "{REDIS-3}:sale"), "sold", 3);
      const report = await internal<{ drift: { sku: string; live: unknown; recorded: unknown }[] }>(
        server,
        "reconcile",
        {},
      );
      expect(report.drift.filter((d) => d.sku === "REDIS-3")).toEqual([
        expect.objectContaining({
          sku: "REDIS-3",
          live: { stock: 10, reserved: 0, sold: 4 },
          recorded: { stock: 10, reserved: 0, sold: 1 },
        }),
      ]);
      // The drift watch reloads the SKU from the record, which every reservation is checked against.
      await eventually(
        async () => (await internal<{ sold: number }>(server, "levels", { sku: "REDIS-3" })).sold === 1,
        30_000,
        "the book reloaded from the database",
      );
      expect(await internal(server, "levels", { sku: "REDIS-3" })).toMatchObject({ available: 9, sold: 1 });
      const after = await internal<{ drift: { sku: string }[] }>(server, "reconcile", {});
      expect(after.drift.filter((d) => d.sku === "REDIS-3")).toEqual([]);
    },
  );

  it.skipIf(!up)(
    "drops a reservation the database never had (its inventory died between the book and the row), and sells its units",
    async () => {
      const server = await start();
      await openSale(server, { sku: "REDIS-6", stock: 3, perUserLimit: 3 });
      // What an inventory process that died between the book and the row leaves: a reservation in
      // Redis that the database never had, and that nobody was ever told was accepted.
      const book = await openReservationBook(servers.redis.url, { prefix: prefixes.get(server)! });
      try {
        const orphan = await book.reserve(
          {
            orderId: "7000000000000000006",
            sku: "REDIS-6",
            userId: "g-orphan",
            quantity: 1,
            idempotencyKey: "k",
          },
          600_000,
        );
        expect(orphan.kind).toBe("reserved");
      } finally {
        await book.close();
      }
      expect(await internal(server, "levels", { sku: "REDIS-6" })).toMatchObject({
        available: 2,
        reserved: 1,
      });
      await eventually(
        async () =>
          (await internal<{ available: number }>(server, "levels", { sku: "REDIS-6" })).available === 3,
        30_000,
        "the orphaned units back on sale",
      );
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, i) => buy(server, `g-${i}`, "REDIS-6")),
      );
      expect(answers.filter((r) => r.status === 202)).toHaveLength(3);
    },
  );

  it.skipIf(!up)("releases a reservation whose order never reached the queue, once it expires", async () => {
    const server = await start({ reservationTtlSeconds: "5" });
    await openSale(server, { sku: "REDIS-4", stock: 3, perUserLimit: 1 });
    // What an intake that died between reserving and appending leaves behind.
    const reserved = await internal<{ outcome: string }>(server, "reserve", {
      orderId: "7000000000000000001",
      sku: "REDIS-4",
      userId: "f-0",
      quantity: 1,
      idempotencyKey: "lost",
    });
    expect(reserved.outcome).toBe("reserved");
    expect(await internal(server, "levels", { sku: "REDIS-4" })).toMatchObject({ available: 2, reserved: 1 });
    await eventually(
      async () => (await internal<{ reserved: number }>(server, "levels", { sku: "REDIS-4" })).reserved === 0,
      20_000,
      "the expired reservation to be released",
    );
    expect(await internal(server, "levels", { sku: "REDIS-4" })).toMatchObject({ available: 3, sold: 0 });
    expect(await internal(server, "reservation", { orderId: "7000000000000000001" })).toBeNull();
  });
});

describe.skipIf(!redisBinariesAvailable())("inventory when its Redis goes away", () => {
  it("answers 503 with Retry-After while Redis is down, and sells again once it is back", async () => {
    const redisServer = await startRedisServer();
    const server = await startTestServer({ stockUrl: `redis://127.0.0.1:${redisServer.port}` });
    try {
      await openSale(server, { sku: "GONE-1", stock: 5, perUserLimit: 1 });
      const buy = (user: string) =>
        server.request<OrderAnswer>("POST", "/orders", {
          user,
          headers: { "idempotency-key": `k-${user}` },
          body: { sku: "GONE-1", quantity: 1 },
        });
      expect((await buy("g-0")).status).toBe(202);
      await redisServer.kill();
      const refused = await buy("g-1");
      expect(refused.status).toBe(503);
      expect(refused.body.error?.code).toBe("not_accepted");
      expect(refused.headers["retry-after"]).toBeDefined();
      // This throwaway server keeps nothing on disk: it comes back empty, and the inventory
      // rebuilds the sale from the database (g-0's reservation included).
      await redisServer.restart();
      await eventually(async () => (await buy("g-1")).status === 202, 20_000, "sales to resume");
      expect((await buy("g-0")).status).toBe(202); // g-0's replay: its first order, not a second
      expect(
        (
          await server.request<OrderAnswer>("POST", "/orders", {
            user: "g-0",
            headers: { "idempotency-key": "fresh" },
            body: { sku: "GONE-1", quantity: 1 },
          })
        ).body.error?.code,
      ).toBe("limit_exceeded");
    } finally {
      await server.close();
      await redisServer.kill();
    }
  });
});

describe.skipIf(!redisBinariesAvailable())("inventory on a Redis Cluster", () => {
  it("sells exactly the stock with every SKU's keys in one slot, and hears sell-outs over cluster pub/sub", async () => {
    const cluster = await startRedisCluster();
    const server = await startTestServer({ stockUrl: cluster.url });
    try {
      for (const sku of ["CLUSTER-A", "CLUSTER-B", "CLUSTER-C"]) {
        await openSale(server, { sku, stock: 15, perUserLimit: 1 });
      }
      const answers = await Promise.all(
        Array.from({ length: 240 }, (_, i) =>
          server.request<OrderAnswer>("POST", "/orders", {
            user: `cl-${i}`,
            headers: { "idempotency-key": `k-${i}` },
            body: { sku: ["CLUSTER-A", "CLUSTER-B", "CLUSTER-C"][i % 3], quantity: 1 },
          }),
        ),
      );
      expect(answers.filter((r) => r.status === 202)).toHaveLength(45);
      expect(answers.filter((r) => r.body.error?.code === "sold_out")).toHaveLength(195);
      // Each SKU's keys, as Floodgate wrote them, all live in one slot (the {sku} hash tag): found
      // on the masters, not assumed from the naming.
      for (const sku of ["CLUSTER-A", "CLUSTER-B", "CLUSTER-C"]) {
        const listed = await Promise.all(
          cluster.masters.map((master) =>
            cluster.cli(master, "--scan", "--pattern", `floodgate:stock:{${sku}}:*`),
          ),
        );
        const keys = listed.flatMap((out) => out.split("\n").filter((line) => line !== ""));
        // At least sale, held and holders (settled orders have left keys and res; see stock-reserve-6.lua).
        expect(keys.length, sku).toBeGreaterThanOrEqual(3);
        const slots = await Promise.all(
          keys.map(async (key) => (await cluster.cli(cluster.masters[0]!, "cluster", "keyslot", key)).trim()),
        );
        expect(new Set(slots).size, `${sku}: ${keys.join(", ")}`).toBe(1);
      }
      // A latecomer is refused by the intake's flag, learnt over the cluster's pub/sub.
      await eventually(
        async () => {
          const late = await server.request<OrderAnswer>("POST", "/orders", {
            user: "late",
            body: { sku: "CLUSTER-A", quantity: 1 },
          });
          expect(late.body.error?.code).toBe("sold_out");
          const metrics = (await server.request<string>("GET", "/metrics")).body;
          return counter(metrics, 'floodgate_orders_intake_total{outcome="sold_out_flag"}') > 0;
        },
        10_000,
        "an intake refusal from the sold-out flag",
      );
    } finally {
      await server.close();
      await cluster.stop();
    }
  });
});
