import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../support/infra.js";
import { deleteStreams } from "../support/nats-streams.js";
import { eventually, openSale, startTestServer, type TestServer } from "../support/test-server.js";

/** The flash-sale path with the order stream on a real broker instead of the embedded log. */
describe.each([
  { broker: "NATS JetStream", server: "nats" as const, url: servers.nats.url },
  { broker: "Redis Streams", server: "redis" as const, url: servers.redis.url },
])("flash sale over $broker", async ({ server: name, url }) => {
  const up = await serverAvailable(name);
  const prefix = `t${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.close();
    if (!up) return;
    if (name === "nats") await deleteStreams(url, `${prefix.toUpperCase()}_`);
    else {
      const redis = new Redis(url);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it.skipIf(!up)("sells exactly the stock and stores every accepted order once", async () => {
    server = await startTestServer({ queueUrl: url, queuePrefix: prefix });
    await openSale(server, { sku: "BROKER-1", stock: 40, perUserLimit: 1 });
    const responses = await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        server!.request<{ orderId?: string; error?: { code: string } }>("POST", "/orders", {
          user: `broker-${i}`,
          headers: { "idempotency-key": `k-${i}` },
          body: { sku: "BROKER-1", quantity: 1 },
        }),
      ),
    );
    const accepted = responses.filter((r) => r.status === 202).map((r) => r.body.orderId!);
    expect(accepted).toHaveLength(40);
    expect(responses.filter((r) => r.status === 409 && r.body.error?.code === "sold_out")).toHaveLength(560);
    await eventually(
      async () =>
        (
          await server!.request<{ levels: { sold: number } }>("GET", "/admin/sales/BROKER-1", {
            user: "a",
            admin: true,
          })
        ).body.levels.sold === 40,
      30_000,
      "the worker to store every order from the broker",
    );
    const stored = await server.request<{ items: { id: string }[] }>("GET", "/admin/orders?limit=100", {
      user: "a",
      admin: true,
    });
    expect(stored.body.items.map((o) => o.id).sort()).toEqual(accepted.sort());
  });
});
