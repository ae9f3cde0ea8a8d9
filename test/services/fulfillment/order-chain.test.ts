import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SettingKey } from "../../../src/platform/config/settings.js";
import { encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { PAYMENT_EVENTS_TOPIC } from "../../../src/services/payments/payment-events.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

interface OrderView {
  status: string;
  history: { status: string; cause?: string; trackingNumber?: string }[];
}

interface ShipmentRow {
  [column: string]: unknown;
  status: string;
  tracking_number: string | null;
  shipped_at: string | null;
  delivered_at: string | null;
}

const DELIVERY_SECONDS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The order's whole life through the real services in one process: an order stored by the worker,
 * paid (the payments service's `payment.succeeded`, published here as the provider's notification
 * would make it), shipped by fulfilment and completed on delivery; and one refunded while in transit.
 */
function describeChain(mode: string, settings: () => Promise<Partial<Record<SettingKey, string>>>) {
  describe(`an order's shipment, every service in one process (${mode})`, () => {
    let server: TestServer;
    const cleanup: () => Promise<void> = async () => {};
    beforeAll(async () => {
      server = await startTestServer({
        carrierDeliverySeconds: String(DELIVERY_SECONDS),
        ...(await settings()),
      });
      await openSale(server, { sku: "SHIP-1", stock: 10, perUserLimit: 5 });
    }, 120_000);
    afterAll(async () => {
      await server?.close();
      await cleanup();
    });

    const order = async (orderId: string) =>
      (await server.request<OrderView>("GET", `/orders/${orderId}`, { user: "ops", admin: true })).body;
    const shipmentOf = async (orderId: string) =>
      (
        await server.running.platform.databases.primary.query<ShipmentRow>(
          "SELECT status, tracking_number, shipped_at, delivered_at FROM fulfillment.shipments WHERE order_id = $1",
          [orderId],
        )
      )[0];
    /** A stored order, paid: what the payments service publishes once the provider confirms. */
    const paidOrder = async (user: string): Promise<string> => {
      const placed = await server.request<{ orderId: string }>("POST", "/orders", {
        user,
        body: { sku: "SHIP-1", quantity: 1 },
      });
      expect(placed.status).toBe(202);
      const orderId = placed.body.orderId;
      await eventually(async () => (await order(orderId)).status === "created", 20_000, "the order stored");
      await publishPayment("payment.succeeded", orderId, user, {});
      return orderId;
    };
    const publishPayment = (type: string, orderId: string, userId: string, extra: Record<string, string>) =>
      server.running.platform.stream.append(
        PAYMENT_EVENTS_TOPIC,
        encodeEvent(
          newEvent(type, {
            paymentId: `pay-${orderId}`,
            orderId,
            userId,
            amountCents: 1999,
            currency: "EUR",
            ...extra,
          }),
        ),
      );

    it("ships a paid order once, with its tracking number in the history, and completes it on delivery", async () => {
      const orderId = await paidOrder("chain-buyer");
      await eventually(
        async () => (await order(orderId)).status === "completed",
        30_000,
        "the order completed",
      );
      const view = await order(orderId);
      const shipment = await shipmentOf(orderId);
      expect(view.history.map((entry) => [entry.status, entry.cause])).toEqual([
        ["pending", "accepted"],
        ["created", "stored"],
        ["paid", "payment_succeeded"],
        ["shipped", "shipment_created"],
        ["completed", "delivered"],
      ]);
      expect(shipment?.tracking_number).toMatch(/^SIM/);
      expect(view.history.find((entry) => entry.status === "shipped")?.trackingNumber).toBe(
        shipment?.tracking_number,
      );
      // Delivered when the carrier's clock passed the configured seconds after it took the parcel.
      const [parcel] = await server.running.platform.databases.primary.query<{ created_at: string }>(
        "SELECT created_at FROM carrier_simulator.shipments WHERE reference = $1",
        [orderId],
      );
      expect(Date.parse(String(shipment?.delivered_at)) - Date.parse(String(parcel?.created_at))).toBe(
        DELIVERY_SECONDS * 1000,
      );
      const metrics = (await server.request<string>("GET", "/metrics")).body;
      expect(metrics).toMatch(/floodgate_fulfillment_shipments_total\{event="created"\} [1-9]/);
      expect(metrics).toMatch(/floodgate_fulfillment_shipments_total\{event="delivered"\} [1-9]/);
    }, 60_000);

    it("calls back the shipment of an order refunded in transit: no delivery, the order stays refunded", async () => {
      const orderId = await paidOrder("refund-buyer");
      await eventually(async () => (await order(orderId)).status === "shipped", 20_000, "the order shipped");
      await publishPayment("payment.refunded", orderId, "refund-buyer", { reason: "requested" });
      await eventually(
        async () => (await shipmentOf(orderId))?.status === "cancelled",
        20_000,
        "the shipment called back",
      );
      const shipped = Date.parse(String((await shipmentOf(orderId))?.shipped_at));
      await sleep(Math.max(0, shipped + DELIVERY_SECONDS * 1000 - Date.now()) + 2_000);
      expect((await order(orderId)).status).toBe("refunded");
      expect((await order(orderId)).history.map((entry) => entry.status)).not.toContain("completed");
      expect(await shipmentOf(orderId)).toMatchObject({ status: "cancelled", delivered_at: null });
      const metrics = (await server.request<string>("GET", "/metrics")).body;
      expect(metrics).toMatch(/floodgate_fulfillment_shipments_total\{event="cancelled"\} 1/);
    }, 60_000);
  });
}

describeChain("embedded", async () => ({}));

const serversUp = (await serverAvailable("postgres")) && (await serverAvailable("nats"));
describe.skipIf(!serversUp)("on servers", () => {
  let database: ScratchPostgresDatabase | undefined;
  const prefix = `fgchain${randomBytes(4).toString("hex")}`;
  afterAll(async () => {
    await database?.drop();
    await deleteStreams(servers.nats.url, `${prefix.toUpperCase()}_`);
  });
  describeChain("PostgreSQL and NATS JetStream", async () => {
    database = await createScratchPostgresDatabase();
    return { databaseUrls: database.url, queueUrl: servers.nats.url, queuePrefix: prefix };
  });
});
