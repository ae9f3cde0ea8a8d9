import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../support/test-server.js";
import { type PaymentsHarness, startPaymentsHarness } from "./payments-harness.js";

/**
 * A payment that arrives after its order was cancelled at the payment deadline (Vendure #3065's
 * "payment succeeds after the stock is gone"): the money goes back by itself, once, and the order
 * stays cancelled.
 */
describe("a late payment (embedded)", () => {
  let h: PaymentsHarness;

  beforeAll(async () => {
    h = await startPaymentsHarness({ paymentTimeoutSeconds: "5" });
  }, 60_000);
  afterAll(async () => h?.close());

  it("is refunded automatically, with reason order_cancelled, and the order stays cancelled", async () => {
    const user = "late-buyer";
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.waitForStatus(orderId, "cancelled", 20_000);
    const refused = await h.server.request<{ error: { code: string; status: string } }>(
      "POST",
      `/orders/${orderId}/payment`,
      { user },
    );
    expect([refused.status, refused.body.error.code, refused.body.error.status]).toEqual([
      409,
      "order_not_payable",
      "cancelled",
    ]);

    // The buyer still had the checkout page open, and pays now.
    await h.settle(payment, "confirm");
    await eventually(
      async () => h.eventsOf("payment.refunded", payment.paymentId).length === 1,
      20_000,
      "the refund",
    );
    expect(h.eventsOf("payment.succeeded", payment.paymentId)).toHaveLength(1);
    expect(h.eventsOf("payment.refunded", payment.paymentId)[0]?.data).toMatchObject({
      reason: "order_cancelled",
      amountCents: 1999,
      orderId,
    });
    const atProvider = await h.simulatorPayment(payment.redirectUrl);
    expect(atProvider.status).toBe("refunded");
    expect(atProvider.refunds).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const order = await h.order(orderId);
    expect(order.status).toBe("cancelled");
    expect(order.history.map((entry) => entry.cause)).toContain("payment_refused_order_cancelled");
    expect(h.eventsOf("payment.refunded", payment.paymentId)).toHaveLength(1);
  });
});
