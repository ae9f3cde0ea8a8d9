import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Carrier, CarrierError, type CarrierShipment } from "../../../src/platform/carrier/carrier.js";

/** How a suite gets carriers: all on the same books, so a reopened carrier sees earlier parcels. */
export interface CarrierFixture {
  /** A carrier that delivers `deliverySeconds` after taking a parcel. */
  open(deliverySeconds: number): Promise<Carrier>;
  close(): Promise<void>;
}

const request = (key: string) => ({
  idempotencyKey: key,
  reference: key,
  recipient: "buyer-1",
  items: [{ sku: "SKU-1", quantity: 2 }],
});

/** A create retried while the carrier says "retry" (the port allows it for a key being created). */
async function createPatiently(carrier: Carrier, key: string): Promise<CarrierShipment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await carrier.createShipment(request(key));
    } catch (error) {
      if (!(error instanceof CarrierError) || !error.retryable || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promises of the Carrier port (src/platform/carrier/carrier.ts), for any adapter. */
export function describeCarrierConformance(name: string, makeFixture: () => Promise<CarrierFixture>): void {
  describe(`Carrier conformance: ${name}`, () => {
    let fixture: CarrierFixture;
    let slow: Carrier;
    let fast: Carrier;
    beforeAll(async () => {
      fixture = await makeFixture();
      slow = await fixture.open(3600);
      fast = await fixture.open(1);
    }, 60_000);
    afterAll(async () => {
      await slow?.close();
      await fast?.close();
      await fixture?.close();
    });

    it("takes a parcel and gives it a tracking number, in transit until the expected delivery", async () => {
      const before = Date.now();
      const parcel = await slow.createShipment(request(randomUUID()));
      expect(parcel.trackingNumber).toMatch(/^\S{6,}$/);
      expect(parcel.status).toBe("in_transit");
      const expected = Date.parse(parcel.deliveryAt);
      expect(expected).toBeGreaterThan(before + 3500_000);
      expect(expected).toBeLessThan(Date.now() + 3700_000);
    });

    it("makes one parcel per idempotency key, however often and however concurrently it is asked", async () => {
      const key = randomUUID();
      const answers = await Promise.all(Array.from({ length: 10 }, () => createPatiently(slow, key)));
      expect(new Set(answers.map((a) => a.trackingNumber)).size).toBe(1);
      expect((await createPatiently(slow, key)).trackingNumber).toBe(answers[0]!.trackingNumber);
      const other = await slow.createShipment(request(randomUUID()));
      expect(other.trackingNumber).not.toBe(answers[0]!.trackingNumber);
    });

    it("reports a delivery once its time has come", async () => {
      const parcel = await fast.createShipment(request(randomUUID()));
      expect((await fast.trackShipments([parcel.trackingNumber])).get(parcel.trackingNumber)?.status).toBe(
        "in_transit",
      );
      await sleep(Math.max(0, Date.parse(parcel.deliveryAt) - Date.now()) + 300);
      const tracked = (await fast.trackShipments([parcel.trackingNumber])).get(parcel.trackingNumber);
      expect(tracked?.status).toBe("delivered");
      expect(tracked?.deliveryAt).toBe(parcel.deliveryAt);
    });

    it("calls a parcel back before delivery, and then never delivers it; a repeated cancel says so again", async () => {
      const key = randomUUID();
      const parcel = await fast.createShipment(request(key));
      expect(await fast.cancelShipment(parcel.trackingNumber)).toBe("cancelled");
      await sleep(Math.max(0, Date.parse(parcel.deliveryAt) - Date.now()) + 300);
      expect((await fast.trackShipments([parcel.trackingNumber])).get(parcel.trackingNumber)?.status).toBe(
        "cancelled",
      );
      expect(await fast.cancelShipment(parcel.trackingNumber)).toBe("cancelled");
      // The key still names that parcel: asking again does not make a new one.
      const again = await fast.createShipment(request(key));
      expect(again).toMatchObject({ trackingNumber: parcel.trackingNumber, status: "cancelled" });
    });

    it("cannot call back a delivered parcel, and says it was delivered", async () => {
      const parcel = await fast.createShipment(request(randomUUID()));
      await sleep(Math.max(0, Date.parse(parcel.deliveryAt) - Date.now()) + 300);
      expect(await fast.cancelShipment(parcel.trackingNumber)).toBe("delivered");
      expect((await fast.trackShipments([parcel.trackingNumber])).get(parcel.trackingNumber)?.status).toBe(
        "delivered",
      );
    });

    it("refuses to cancel a tracking number it does not know, and leaves it out of tracking", async () => {
      const error = await slow.cancelShipment("NO-SUCH-PARCEL").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CarrierError);
      expect(error).toMatchObject({ code: "unknown_shipment", retryable: false });
      expect((await slow.trackShipments(["NO-SUCH-PARCEL"])).size).toBe(0);
      expect((await slow.trackShipments([])).size).toBe(0);
    });

    it("keeps its parcels across a restart: a new carrier on the same books delivers them on time", async () => {
      const key = randomUUID();
      const parcel = await fast.createShipment(request(key));
      const reopened = await fixture.open(1);
      try {
        expect((await reopened.createShipment(request(key))).trackingNumber).toBe(parcel.trackingNumber);
        await sleep(Math.max(0, Date.parse(parcel.deliveryAt) - Date.now()) + 300);
        expect(
          (await reopened.trackShipments([parcel.trackingNumber])).get(parcel.trackingNumber)?.status,
        ).toBe("delivered");
      } finally {
        await reopened.close();
      }
    });
  });
}
