import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DomainEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { shardOfSnowflake } from "../../../src/platform/ids/snowflake.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { OrderLifecycleHandlers } from "../../../src/services/orders/order-lifecycle-handlers.js";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

/**
 * A shipment's delivery that overtakes its creation (one of the two was redelivered): the order is
 * still shipped, then completed, with the tracking number in its history, and the late creation
 * changes nothing. Before, the delivery was refused for an order still `paid`, and the order
 * stayed `shipped` for ever once the creation came.
 */
describe("shipment events out of order", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await openSale(server, { sku: "SHIP-ORDER-1", stock: 5, perUserLimit: 5 });
  }, 60_000);
  afterAll(async () => server?.close());

  it("completes an order whose delivery came before its shipment", async () => {
    const placed = await server.request<{ orderId: string }>("POST", "/orders", {
      user: "overtaken",
      body: { sku: "SHIP-ORDER-1", quantity: 1 },
    });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId;
    const order = async () =>
      (
        await server.request<{ status: string; history: { status: string; trackingNumber?: string }[] }>(
          "GET",
          `/orders/${orderId}`,
          { user: "ops", admin: true },
        )
      ).body;
    await eventually(async () => (await order()).status === "created", 20_000, "the order stored");

    const db = server.running.platform.databases.forVirtualShard(shardOfSnowflake(orderId) ?? 0);
    const metrics = new Metrics({}, { processMetrics: false });
    const handlers = new OrderLifecycleHandlers(createLogger("silent"), metrics);
    const apply = (handle: (tx: Parameters<Parameters<typeof db.transaction>[0]>[0]) => Promise<void>) =>
      db.transaction((tx) => handle(tx));
    const shipment = {
      shipmentId: "shp_1",
      orderId,
      userId: "overtaken",
      trackingNumber: "TRK-OVERTAKEN",
      carrier: "simulator",
    };
    const paid = newEvent("payment.succeeded", {
      paymentId: "pay_overtaken",
      orderId,
      userId: "overtaken",
      amountCents: 1999,
      currency: "EUR",
    }) as DomainEvent;
    const delivered = newEvent("shipment.delivered", { ...shipment, deliveredAt: new Date().toISOString() });
    const created = newEvent("shipment.created", {
      ...shipment,
      expectedDeliveryAt: new Date().toISOString(),
    });

    await apply((tx) => handlers.onPayment(paid, tx, () => {}));
    expect((await order()).status).toBe("paid");
    await apply((tx) => handlers.onShipment(delivered, tx, () => {}));
    const completed = await order();
    expect(completed.status).toBe("completed");
    expect(completed.history.map((entry) => entry.status)).toEqual([
      "pending",
      "created",
      "paid",
      "shipped",
      "completed",
    ]);
    expect(completed.history.find((entry) => entry.status === "shipped")?.trackingNumber).toBe(
      "TRK-OVERTAKEN",
    );
    await apply((tx) => handlers.onShipment(created, tx, () => {}));
    expect((await order()).history).toEqual(completed.history);
    const refused = await metrics.registry
      .getSingleMetric("floodgate_orders_transitions_refused_total")!
      .get();
    expect(refused.values).toEqual([]);
  }, 60_000);
});
