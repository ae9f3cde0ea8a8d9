import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../support/infra.js";
import { openSale, startTestServer, type TestServer } from "../support/test-server.js";
import { bearer, SECRET, startTestGateway, type TestGateway } from "./gateway-fixture.js";

const SERVICES = ["catalog", "inventory", "sales", "orders"];
const redisUp = await serverAvailable("redis");

/** Every service of a real (embedded) Floodgate behind the gateway, with the gateway's defaults. */
describe("gateway in front of Floodgate, with its default limits", () => {
  let floodgate: TestServer;
  let gateway: TestGateway;
  beforeAll(async () => {
    floodgate = await startTestServer({ authSecret: SECRET });
    await openSale(floodgate, { sku: "EDGE-1", stock: 1000, perUserLimit: 1000 });
    gateway = await startTestGateway(SERVICES.map((name) => `${name}=${floodgate.url}`).join(","));
  }, 180_000);
  afterAll(async () => {
    await gateway?.close();
    await floodgate?.close();
  });

  const placeOrder = (user: string, key: string) =>
    gateway.request("POST", "/orders", {
      headers: {
        authorization: bearer(user),
        "content-type": "application/json",
        "idempotency-key": key,
      },
      body: JSON.stringify({ sku: "EDGE-1", quantity: 1 }),
    });

  it("takes an order through the front door", async () => {
    const answer = await placeOrder("first-buyer", "edge-first");
    expect(answer.status, answer.body).toBe(202);
    expect(JSON.parse(answer.body)).toMatchObject({ status: "pending" });
  });

  it("stops a single buyer hammering POST /orders with 429 and Retry-After", async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => placeOrder("hammer", `hammer-${i}`)),
    );
    const seconds = (Date.now() - started) / 1000;
    const limited = answers.filter((answer) => answer.status === 429);
    // The default bucket: a burst of 10, refilled at 5 a second while the 40 arrive.
    const allowed = answers.filter((answer) => answer.status === 202).length;
    expect(allowed).toBeLessThanOrEqual(10 + Math.ceil(seconds * 5));
    expect(limited.length).toBe(40 - allowed);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(limited[0]!.body).error.code).toBe("rate_limited");
    // Another buyer is not held back by the first one's bucket.
    expect((await placeOrder("patient-buyer", "patient-1")).status).toBe(202);
  });

  it("routes /internal/* nowhere, even with a service token that the services themselves accept", async () => {
    const service = `Bearer ${(await import("./gateway-fixture.js")).tokens.issue({ userId: "svc", service: true })}`;
    const direct = await floodgate.request("POST", "/internal/orders/backlog", {
      headers: { authorization: service, "content-type": "application/json" },
      rawBody: "{}",
    });
    expect(direct.status).toBe(200);
    const through = await gateway.request("POST", "/internal/orders/backlog", {
      headers: { authorization: service, "content-type": "application/json" },
      body: "{}",
    });
    expect(through.status).toBe(404);
  });
});

describe.skipIf(!redisUp)("gateway rate limits shared through Redis", () => {
  const prefix = `fgtest-gw-${Date.now().toString(36)}:`;
  afterAll(async () => {
    const redis = new Redis(servers.redis.url);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("counts one user's requests across two gateway instances", async () => {
    const { startStub } = await import("./gateway-fixture.js");
    const orders = await startStub("orders");
    const shared = {
      gatewayRateLimitUrl: servers.redis.url,
      cachePrefix: prefix,
      gatewayUserRate: "1",
      gatewayUserBurst: "10",
      gatewayIpRate: "0",
    };
    const [a, b] = [
      await startTestGateway(`orders=${orders.url}`, shared),
      await startTestGateway(`orders=${orders.url}`, shared),
    ];
    try {
      const answers = [];
      const started = Date.now();
      for (let i = 0; i < 20; i++) {
        const gateway = i % 2 === 0 ? a : b;
        answers.push(
          await gateway.request("GET", "/orders/1", { headers: { authorization: bearer("shared-user") } }),
        );
      }
      // One bucket of 10 for both gateways, refilled at 1 a second (each gateway alone would have
      // let all 20 through).
      const refilled = Math.ceil((Date.now() - started) / 1000);
      const allowed = answers.filter((answer) => answer.status === 200).length;
      expect(allowed).toBeLessThanOrEqual(10 + refilled);
      expect(allowed).toBeLessThan(20);
      expect(answers.filter((answer) => answer.status === 429)).toHaveLength(20 - allowed);
    } finally {
      await a.close();
      await b.close();
      await orders.close();
    }
  });
});
