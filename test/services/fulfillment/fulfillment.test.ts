import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Carrier,
  CarrierError,
  type CarrierShipment,
  type ShipmentRequest,
} from "../../../src/platform/carrier/carrier.js";
import { ShipmentStore } from "../../../src/services/fulfillment/shipment-store.js";
import { ORDER_EVENTS_TOPIC } from "../../../src/services/orders/order-events.js";
import { serverAvailable } from "../../support/infra.js";
import { eventually } from "../../support/test-server.js";
import {
  type FulfillmentHarness,
  type Infrastructure,
  newOrderId,
  openFulfillmentHarness,
  orderPaid,
  orderRefunded,
} from "./fulfillment-harness.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Distinct events of a type for an order (a relay may append one event twice; consumers dedupe by id). */
function distinct(harness: FulfillmentHarness, orderId: string, type: string): string[] {
  return [...new Set(harness.published.of(orderId, type).map((e) => e.id))];
}

/**
 * A carrier that takes the parcel and then fails to answer, the first `times` creates: what a
 * timeout, or a process dying between the carrier's answer and its commit, looks like.
 */
class AnswerLosingCarrier implements Carrier {
  readonly name: string;
  creates = 0;

  constructor(
    private readonly inner: Carrier,
    private times: number,
  ) {
    this.name = inner.name;
  }

  async createShipment(request: ShipmentRequest): Promise<CarrierShipment> {
    this.creates++;
    const parcel = await this.inner.createShipment(request);
    if (this.times > 0) {
      this.times--;
      throw new CarrierError("unavailable", "the answer was lost on the way back");
    }
    return parcel;
  }

  cancelShipment(trackingNumber: string) {
    return this.inner.cancelShipment(trackingNumber);
  }

  trackShipments(trackingNumbers: readonly string[]) {
    return this.inner.trackShipments(trackingNumbers);
  }

  close() {
    return Promise.resolve();
  }
}

/** A carrier that is down (every call fails) until `up()`. */
class FlakyCarrier implements Carrier {
  readonly name: string;
  failures = 0;
  private down = true;

  constructor(private readonly inner: Carrier) {
    this.name = inner.name;
  }

  up(): void {
    this.down = false;
  }

  private check(): void {
    if (this.down) {
      this.failures++;
      throw new CarrierError("unavailable", "carrier down");
    }
  }

  async createShipment(request: ShipmentRequest) {
    this.check();
    return this.inner.createShipment(request);
  }

  async cancelShipment(trackingNumber: string) {
    this.check();
    return this.inner.cancelShipment(trackingNumber);
  }

  async trackShipments(trackingNumbers: readonly string[]) {
    this.check();
    return this.inner.trackShipments(trackingNumbers);
  }

  close() {
    return Promise.resolve();
  }
}

function describeFulfillment(infrastructure: Infrastructure) {
  describe(`fulfilment (${infrastructure})`, () => {
    describe("with deliveries after 1 s", () => {
      let harness: FulfillmentHarness;
      beforeAll(async () => {
        harness = await openFulfillmentHarness(infrastructure, 1);
        harness.startFulfillment(undefined, { maxEventAttempts: 3 });
      }, 60_000);
      afterAll(async () => {
        await harness?.close();
      });

      it("gives a paid order exactly one shipment, delivered after the configured seconds", async () => {
        const orderId = newOrderId();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => harness.published.of(orderId, "shipment.delivered").length > 0,
          20_000,
          "the delivery",
        );
        const [created] = harness.published.of(orderId, "shipment.created");
        const [delivered] = harness.published.of(orderId, "shipment.delivered");
        expect(created?.data).toMatchObject({ orderId, userId: "buyer-1", carrier: "simulator" });
        expect(delivered?.data.trackingNumber).toBe(created?.data.trackingNumber);
        expect(delivered?.data.shipmentId).toBe(created?.data.shipmentId);
        const shipment = await new ShipmentStore(harness.db).byOrderId(orderId);
        expect(shipment).toMatchObject({ status: "delivered", trackingNumber: created?.data.trackingNumber });
        // Delivered when the carrier's clock passed the configured second after it took the parcel.
        const [parcel] = await harness.db.query<{ created_at: string }>(
          "SELECT created_at FROM carrier_simulator.shipments WHERE reference = $1",
          [orderId],
        );
        expect(Date.parse(shipment!.deliveredAt!) - Date.parse(String(parcel?.created_at))).toBe(1_000);
        expect(await harness.parcelsOf(orderId)).toHaveLength(1);
        await sleep(1_000);
        expect(distinct(harness, orderId, "shipment.created")).toHaveLength(1);
        expect(distinct(harness, orderId, "shipment.delivered")).toHaveLength(1);
        expect(harness.published.of(orderId, "shipment.cancelled")).toHaveLength(0);
      });

      it("makes no second shipment for a duplicated order.paid, redelivered or published again", async () => {
        const orderId = newOrderId();
        const paid = orderPaid(orderId);
        await harness.publishOrderEvent(paid);
        await harness.publishOrderEvent(paid); // the same event again (a redelivery)
        await harness.publishOrderEvent(orderPaid(orderId)); // another event for the same order
        await eventually(
          async () => harness.published.of(orderId, "shipment.delivered").length > 0,
          20_000,
          "the delivery",
        );
        await eventually(
          async () => (await harness.stream.stats(ORDER_EVENTS_TOPIC)).groups.every((g) => g.lag === 0),
          20_000,
          "every order event handled",
        );
        await sleep(1_500);
        const [{ count }] = (await harness.db.query<{ count: number }>(
          "SELECT count(*)::int AS count FROM fulfillment.shipments WHERE order_id = $1",
          [orderId],
        )) as [{ count: number }];
        expect(count).toBe(1);
        expect(await harness.parcelsOf(orderId)).toHaveLength(1);
        expect(distinct(harness, orderId, "shipment.created")).toHaveLength(1);
        expect(distinct(harness, orderId, "shipment.delivered")).toHaveLength(1);
      });

      it("shares the work between two processes: each shipment created and delivered once", async () => {
        harness.startFulfillment(undefined, { batch: 5 }); // a second process beside the first
        const orderIds = Array.from({ length: 40 }, () => newOrderId());
        await Promise.all(orderIds.map((orderId) => harness.publishOrderEvent(orderPaid(orderId))));
        await eventually(
          async () => orderIds.every((id) => harness.published.of(id, "shipment.delivered").length > 0),
          30_000,
          "every delivery",
        );
        await sleep(1_000);
        for (const orderId of orderIds) {
          expect(distinct(harness, orderId, "shipment.created"), orderId).toHaveLength(1);
          expect(distinct(harness, orderId, "shipment.delivered"), orderId).toHaveLength(1);
          expect(await harness.parcelsOf(orderId)).toHaveLength(1);
        }
      }, 60_000);

      it("makes no shipment for a refund seen before its payment, and none when the payment comes", async () => {
        const orderId = newOrderId();
        const handled = () =>
          eventually(
            async () => (await harness.stream.stats(ORDER_EVENTS_TOPIC)).groups.every((g) => g.lag === 0),
            20_000,
            "the refund handled",
          );
        await harness.publishOrderEvent(orderRefunded(orderId, "paid"));
        // Seen first: handled before the payment is published (a failed first try of the refund
        // would otherwise let the payment overtake it, which is the other test's case).
        await handled();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => (await harness.stream.stats(ORDER_EVENTS_TOPIC)).groups.every((g) => g.lag === 0),
          20_000,
          "both events handled",
        );
        await sleep(1_500);
        expect(await new ShipmentStore(harness.db).byOrderId(orderId)).toMatchObject({
          status: "cancelled",
          trackingNumber: null,
        });
        expect(await harness.parcelsOf(orderId)).toHaveLength(0);
        expect(harness.published.of(orderId)).toHaveLength(0);
      });

      it("withdraws a shipment refunded before the carrier was asked, without asking it", async () => {
        const orderId = newOrderId();
        const order = { orderId, userId: "buyer-1", sku: "TEE-1", quantity: 1 };
        // Both in one transaction, so no sweep can take the shipment between them.
        const outcome = await harness.db.transaction(async (tx) => {
          await ShipmentStore.request(tx, order);
          return ShipmentStore.callBack(tx, order);
        });
        expect(outcome).toBe("withdrawn");
        await sleep(500);
        expect(await harness.parcelsOf(orderId)).toHaveLength(0);
        expect((await new ShipmentStore(harness.db).byOrderId(orderId))?.status).toBe("cancelled");
      });

      it("dead-letters an order.paid that names no order, and goes on with the others", async () => {
        const before = (await harness.stream.stats(ORDER_EVENTS_TOPIC)).deadLetters;
        const poisoned = orderPaid("");
        await harness.publishOrderEvent(poisoned);
        const orderId = newOrderId();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => harness.published.of(orderId, "shipment.created").length > 0,
          20_000,
          "the next order shipped",
        );
        await eventually(
          async () => (await harness.stream.stats(ORDER_EVENTS_TOPIC)).deadLetters > before,
          60_000,
          "the poisoned event dead-lettered",
        );
      }, 90_000);
    });

    describe("with deliveries after 4 s", () => {
      let harness: FulfillmentHarness;
      beforeAll(async () => {
        harness = await openFulfillmentHarness(infrastructure, 4);
      }, 60_000);
      afterAll(async () => {
        await harness?.close();
      });

      it("calls back a shipment refunded before delivery, and no delivery follows", async () => {
        harness.startFulfillment();
        const orderId = newOrderId();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => harness.published.of(orderId, "shipment.created").length > 0,
          20_000,
          "the shipment",
        );
        await harness.publishOrderEvent(orderRefunded(orderId, "shipped"));
        await eventually(
          async () => harness.published.of(orderId, "shipment.cancelled").length > 0,
          20_000,
          "the call-back",
        );
        const [created] = harness.published.of(orderId, "shipment.created");
        const expected = Date.parse(String(created?.data.expectedDeliveryAt));
        await sleep(Math.max(0, expected - Date.now()) + 2_000);
        expect(harness.published.of(orderId, "shipment.delivered")).toHaveLength(0);
        expect(await harness.parcelsOf(orderId)).toEqual([
          { tracking_number: created?.data.trackingNumber, cancelled: true },
        ]);
        expect(await new ShipmentStore(harness.db).byOrderId(orderId)).toMatchObject({
          status: "cancelled",
          deliveredAt: null,
        });
        expect(distinct(harness, orderId, "shipment.cancelled")).toHaveLength(1);
      }, 60_000);

      it("asks the carrier again with the same key when its answer was lost: one parcel, one shipment.created", async () => {
        await harness.stopFulfillments();
        const carrier = new AnswerLosingCarrier(harness.simulator, 2);
        harness.startFulfillment(carrier);
        const orderId = newOrderId();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => harness.published.of(orderId, "shipment.created").length > 0,
          20_000,
          "the shipment",
        );
        expect(carrier.creates).toBeGreaterThanOrEqual(3);
        const parcels = await harness.parcelsOf(orderId);
        expect(parcels).toHaveLength(1);
        expect(parcels[0]?.tracking_number).toBe(
          harness.published.of(orderId, "shipment.created")[0]?.data.trackingNumber,
        );
        expect(distinct(harness, orderId, "shipment.created")).toHaveLength(1);
      }, 60_000);
    });

    describe("when the carrier's answer is lost and the order is then refunded", () => {
      let harness: FulfillmentHarness;
      beforeAll(async () => {
        harness = await openFulfillmentHarness(infrastructure, 3600);
      }, 60_000);
      afterAll(async () => {
        await harness?.close();
      });

      it("finds the parcel by its key and calls it back: nothing is left travelling", async () => {
        const carrier = new AnswerLosingCarrier(harness.simulator, 1);
        // A long backoff: the dispatcher does not ask again before the refund comes.
        harness.startFulfillment(carrier, { retryBaseMs: 60_000, retryCapMs: 60_000 });
        const orderId = newOrderId();
        await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(
          async () => (await harness.parcelsOf(orderId)).length > 0,
          20_000,
          "the parcel taken",
        );
        expect(await new ShipmentStore(harness.db).byOrderId(orderId)).toMatchObject({
          status: "requested",
          dispatchAttempted: true,
          trackingNumber: null,
        });
        await harness.publishOrderEvent(orderRefunded(orderId, "paid"));
        await eventually(
          async () => harness.published.of(orderId, "shipment.cancelled").length > 0,
          20_000,
          "the call-back",
        );
        const parcels = await harness.parcelsOf(orderId);
        expect(parcels).toEqual([{ tracking_number: parcels[0]?.tracking_number, cancelled: true }]);
        expect(harness.published.of(orderId, "shipment.cancelled")[0]?.data.trackingNumber).toBe(
          parcels[0]?.tracking_number,
        );
        expect(harness.published.of(orderId, "shipment.created")).toHaveLength(0);
        expect((await new ShipmentStore(harness.db).byOrderId(orderId))?.status).toBe("cancelled");
      }, 60_000);
    });

    describe("when the carrier is down", () => {
      let harness: FulfillmentHarness;
      beforeAll(async () => {
        harness = await openFulfillmentHarness(infrastructure, 0);
      }, 60_000);
      afterAll(async () => {
        await harness?.close();
      });

      it("keeps the shipments due and sends them when it is back; no order event is dead-lettered", async () => {
        const carrier = new FlakyCarrier(harness.simulator);
        harness.startFulfillment(carrier, { maxEventAttempts: 2 });
        const orderIds = [newOrderId(), newOrderId(), newOrderId()];
        for (const orderId of orderIds) await harness.publishOrderEvent(orderPaid(orderId));
        await eventually(async () => carrier.failures >= 6, 20_000, "several failed calls");
        await eventually(
          async () => (await harness.stream.stats(ORDER_EVENTS_TOPIC)).groups.every((g) => g.lag === 0),
          20_000,
          "the order events handled",
        );
        carrier.up();
        await eventually(
          async () => orderIds.every((id) => harness.published.of(id, "shipment.delivered").length > 0),
          20_000,
          "every order shipped and delivered",
        );
        expect((await harness.stream.stats(ORDER_EVENTS_TOPIC)).deadLetters).toBe(0);
        for (const orderId of orderIds) expect(await harness.parcelsOf(orderId)).toHaveLength(1);
      }, 60_000);
    });
  });
}

describeFulfillment("embedded");

describe.skipIf(!((await serverAvailable("postgres")) && (await serverAvailable("nats"))))(
  "on servers",
  () => {
    describeFulfillment("servers");
  },
);
