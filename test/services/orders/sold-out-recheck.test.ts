import { afterEach, describe, expect, it } from "vitest";
import { type OrderPath, startOrderPath } from "../../support/order-path.js";

/**
 * An intake's sold-out flag is trusted for a second, then one request re-checks with the inventory.
 * Whatever that request is answered, the flag learns what is available from it: a re-check refused
 * for its own quantity or its user's limit must not keep single-unit buyers out for another second.
 */
describe("sold-out flag re-check", () => {
  let path: OrderPath | undefined;
  afterEach(async () => {
    await path?.close();
    path = undefined;
  });

  it.each([
    ["a quantity larger than what came back", { userId: "big", quantity: 2 }, "sold_out"],
    ["a user over the limit", { userId: "u1", quantity: 1 }, "limit_exceeded"],
  ] as const)("learns units came back from a re-check refused for %s", async (_, recheck, refusal) => {
    path = await startOrderPath();
    await path.openSale("FLAG-1", 3, 2);
    // This intake hears no stock news: it knows only what its own requests are answered.
    const intake = path.intake({ deaf: true });
    expect(await intake.place({ userId: "u1", sku: "FLAG-1", quantity: 2 })).toMatchObject({ status: 202 });
    const last = await intake.place({ userId: "u2", sku: "FLAG-1", quantity: 1 });
    expect(last).toMatchObject({ status: 202 });
    expect(await intake.place({ userId: "u4", sku: "FLAG-1", quantity: 1 })).toMatchObject({
      code: "sold_out",
    });
    // A unit comes back (u2's order is rejected) and the news is lost on the way to this intake.
    await path.inventory.settle({
      orderId: (last as { orderId: string }).orderId,
      sku: "FLAG-1",
      decision: "reject",
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the flag is due for a re-check
    expect(await intake.place({ ...recheck, sku: "FLAG-1" })).toMatchObject({ code: refusal });
    // The very next single-unit buyer is not refused by a stale flag.
    expect(await intake.place({ userId: "u3", sku: "FLAG-1", quantity: 1 })).toMatchObject({ status: 202 });
  });
});
