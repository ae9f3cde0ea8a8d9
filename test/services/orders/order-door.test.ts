import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";
import { openSale, startTestServer, type TestServer } from "../../support/test-server.js";

type Answer = { status: number; headers: Record<string, unknown>; body: { error?: { code: string } } };

const order = (server: TestServer, user: string, key: string): Promise<Answer> =>
  server.request("POST", "/orders", {
    user,
    headers: { "idempotency-key": key },
    body: { sku: "DOOR-1", quantity: 1 },
  }) as Promise<Answer>;

/**
 * POST /orders is limited by the orders service itself (OrderDoor), so an intake that takes
 * clients without the gateway is protected too. Rates of 1 a second with small bursts: a test run
 * cannot refill a bucket by accident between the requests that matter.
 */
const redisUp = await serverAvailable("redis");

describe("limits at the order intake's door", () => {
  const started: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(started.map((server) => server.close()));
  });

  it("refuses a user past their burst with 429 rate_limited and Retry-After, and no one else", async () => {
    const server = await startTestServer({ orderUserRate: "1", orderUserBurst: "3" });
    started.push(server);
    await openSale(server, { sku: "DOOR-1", stock: 1000, perUserLimit: 1000 });
    // All at once: a slow machine cannot let a token refill between them.
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => order(server, "eager", `eager-${i}`)),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(3);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(2);
    expect(limited[0]!.body.error?.code).toBe("rate_limited");
    expect(Number(limited[0]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect((await order(server, "patient", "patient-1")).status).toBe(202);
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/floodgate_orders_rate_limited_total\{scope="user"\} 2/);
  });

  it("limits one client address across users when FLOODGATE_ORDER_IP_RATE is set", async () => {
    const server = await startTestServer({ orderUserRate: "0", orderIpRate: "1", orderIpBurst: "2" });
    started.push(server);
    await openSale(server, { sku: "DOOR-1", stock: 1000, perUserLimit: 1000 });
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => order(server, `user-${i}`, `ip-${i}`)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429]);
  });

  it.skipIf(!redisUp)("counts one user's orders across intake processes that share a Redis", async () => {
    const shared = {
      orderUserRate: "1",
      orderUserBurst: "2",
      rateLimitUrl: servers.redis.url,
      cachePrefix: `door-${randomUUID()}:`,
    };
    const [a, b] = await Promise.all([startTestServer(shared), startTestServer(shared)]);
    started.push(a, b);
    await openSale(a, { sku: "DOOR-1", stock: 1000, perUserLimit: 1000 });
    await openSale(b, { sku: "DOOR-1", stock: 1000, perUserLimit: 1000 });
    const answers = await Promise.all([
      order(a, "roamer", "r-1"),
      order(b, "roamer", "r-2"),
      order(a, "roamer", "r-3"),
      order(b, "roamer", "r-4"),
    ]);
    // Two intakes, one bucket: two of the four in all, not two each.
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 202, 429, 429]);
  });
});
