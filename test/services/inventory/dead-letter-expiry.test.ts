import { afterEach, describe, expect, it } from "vitest";
import { type OrderPath, startOrderPath } from "../../support/order-path.js";

describe("reservations of dead-lettered orders", () => {
  let path: OrderPath | undefined;
  afterEach(async () => {
    await path?.close();
    path = undefined;
  });

  it("never expire while the order waits in the dead letters, so its unit is not sold twice", async () => {
    path = await startOrderPath({ reservationTtlSeconds: 5 });
    await path.openSale("DLQ-1", 2, 1);
    const intake = path.intake();
    const first = await intake.place({ userId: "u1", sku: "DLQ-1", quantity: 1, idempotencyKey: "k1" });
    expect(first).toMatchObject({ status: 202 });
    const orderId = (first as { orderId: string }).orderId;
    // The worker gave up on it (its own failures, or an outage that once spent its attempts): it
    // waits in the dead letters, and the queue itself is empty.
    expect(path.stream.deadLetterOrder(orderId)).toBe(true);
    // Past the reservation's TTL, with the sweeper running every second.
    await new Promise((resolve) => setTimeout(resolve, 7_500));
    expect(await path.inventory.levels({ sku: "DLQ-1" })).toMatchObject({ reserved: 1, available: 1 });
    expect(await intake.place({ userId: "u2", sku: "DLQ-1", quantity: 1 })).toMatchObject({ status: 202 });
    expect(await intake.place({ userId: "u3", sku: "DLQ-1", quantity: 1 })).toMatchObject({
      status: 409,
      code: "sold_out",
    });
    // An operator replays it: it is stored, as its buyer was told.
    await path.stream.replayDeadLetters();
    await path.drain();
    const stored = await path.stored();
    expect(stored.get(orderId)).toBe("created");
    expect(stored.size).toBe(2);
    expect(await path.inventory.levels({ sku: "DLQ-1" })).toMatchObject({
      sold: 2,
      reserved: 0,
      available: 0,
    });
  }, 90_000);
});
