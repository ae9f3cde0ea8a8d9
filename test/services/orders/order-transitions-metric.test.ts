import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { EventConsumer } from "../../../src/platform/events/event-consumer.js";
import { shardOfSnowflake } from "../../../src/platform/ids/snowflake.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { OrderLifecycleHandlers } from "../../../src/services/orders/order-lifecycle-handlers.js";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

/**
 * `orders_transitions_total` counts a transition once its transaction committed: an attempt that
 * applied it and then rolled back (the connection dropped at commit) and was tried again counts
 * once, not twice.
 */
describe("orders_transitions_total", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await openSale(server, { sku: "COUNT-1", stock: 5, perUserLimit: 5 });
  }, 60_000);
  afterAll(async () => server?.close());

  it("does not count a transition whose transaction rolled back", async () => {
    const placed = await server.request<{ orderId: string }>("POST", "/orders", {
      user: "counted",
      body: { sku: "COUNT-1", quantity: 1 },
    });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId;
    const order = async () =>
      (
        await server.request<{ status: string; history: { status: string }[] }>("GET", `/orders/${orderId}`, {
          user: "ops",
          admin: true,
        })
      ).body;
    await eventually(async () => (await order()).status === "created", 20_000, "the order stored");

    const shard = server.running.platform.databases.forVirtualShard(shardOfSnowflake(orderId) ?? 0);
    // The first transaction runs the handler to the end, then fails at commit as a dropped
    // connection does (57P01): everything it wrote rolls back and the consumer tries again.
    const attempts = { handled: 0, failed: 0 };
    const failingOnce: Database = new Proxy(shard, {
      get(target, property, receiver) {
        if (property !== "transaction") return Reflect.get(target, property, receiver);
        return (work: Parameters<Database["transaction"]>[0]) =>
          target.transaction(async (tx) => {
            const result = await work(tx);
            attempts.handled++;
            if (attempts.failed === 0) {
              attempts.failed++;
              throw Object.assign(new Error("terminating connection due to administrator command"), {
                code: "57P01",
              });
            }
            return result;
          });
      },
    });
    const metrics = new Metrics({}, { processMetrics: false });
    const logger = createLogger("silent");
    const handlers = new OrderLifecycleHandlers(logger, metrics);
    // A topic and group of the test's own: the orders service's consumers never see this event.
    const topic = "test.payments-for-counting";
    const consumer = new EventConsumer({
      stream: server.running.platform.stream,
      topic,
      group: "test.orders-counting",
      database: () => failingOnce,
      schema: "orders",
      handle: (event, tx, afterCommit) => handlers.onPayment(event, tx, afterCommit),
      logger,
      metrics: new Metrics({}, { processMetrics: false }),
      retryBaseMs: 5,
      retryCapMs: 50,
    });
    await server.running.platform.stream.append(
      topic,
      encodeEvent(
        newEvent("payment.succeeded", {
          paymentId: "pay_counting",
          orderId,
          userId: "counted",
          amountCents: 1999,
          currency: "EUR",
        }),
      ),
    );
    consumer.start();
    try {
      await eventually(async () => (await consumer.lag()) === 0, 20_000, "the event handled");
    } finally {
      await consumer.stop();
    }

    expect(attempts).toEqual({ handled: 2, failed: 1 });
    expect((await order()).history.filter((entry) => entry.status === "paid")).toHaveLength(1);
    const counted = await metrics.registry.getSingleMetric("floodgate_orders_transitions_total")!.get();
    expect(counted.values.map((v) => [v.labels, v.value])).toEqual([
      [{ to: "paid", cause: "payment_succeeded" }, 1],
    ]);
  }, 60_000);
});
