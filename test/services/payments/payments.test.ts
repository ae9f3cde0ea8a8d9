import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { ORDER_EVENTS_TOPIC } from "../../../src/services/orders/order-events.js";
import { eventually } from "../../support/test-server.js";
import {
  PAID_OR_LATER,
  type PaymentsHarness,
  startPaymentsHarness,
  successEvent,
} from "./payments-harness.js";

/** openSale's price: every order here is one unit. */
const PRICE = 1999;

interface AdminPayment {
  id: string;
  orderId: string;
  status: string;
  paidCents: number | null;
  refund: { status: string; reason: string; attempts: number } | null;
}

/**
 * The payments service embedded, against the payment simulator over HTTP: paying, declines,
 * duplicated / reordered / delayed / forged / stale / replayed notifications, a mismatched amount,
 * and refunds (an operator's, one whose answer was lost, one the provider refused for a while).
 */
describe("payments (embedded, through the payment simulator)", () => {
  let h: PaymentsHarness;
  let users = 0;
  const newUser = () => `buyer-${++users}`;

  beforeAll(async () => {
    h = await startPaymentsHarness();
  }, 60_000);
  afterAll(async () => h?.close());

  const adminPayments = async (query: string) =>
    (
      await h.server.request<{ items: AdminPayment[] }>("GET", `/admin/payments?${query}`, {
        user: "ops",
        admin: true,
      })
    ).body.items;

  it("opens a payment for the owner's created order only, and returns the same one while it is open", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    expect((await h.server.request("POST", `/orders/${orderId}/payment`)).status).toBe(401);
    const stranger = await h.server.request<{ error: { code: string } }>(
      "POST",
      `/orders/${orderId}/payment`,
      {
        user: "someone-else",
      },
    );
    expect([stranger.status, stranger.body.error.code]).toEqual([404, "order_not_found"]);
    const unknown = await h.server.request<{ error: { code: string } }>("POST", "/orders/123456789/payment", {
      user,
    });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "order_not_found"]);

    const first = await h.server.request<{ paymentId: string; redirectUrl: string }>(
      "POST",
      `/orders/${orderId}/payment`,
      { user },
    );
    expect(first.status).toBe(201);
    expect(first.body.redirectUrl).toContain(h.simulator.url);
    const concurrent = await Promise.all(
      [1, 2, 3].map(() =>
        h.server.request<{ paymentId: string }>("POST", `/orders/${orderId}/payment`, { user }),
      ),
    );
    for (const again of concurrent) {
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    const simulated = await h.simulatorPayment(first.body.redirectUrl);
    expect(simulated).toMatchObject({
      paymentId: first.body.paymentId,
      orderId,
      amountCents: PRICE,
      currency: "EUR",
    });
  });

  it("pays the order when the provider confirms: one payment.succeeded, the order paid", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm");
    const paid = await h.waitForStatus(orderId, "paid");
    expect(paid.history.find((entry) => entry.status === "paid")?.paymentId).toBe(payment.paymentId);
    await eventually(async () => h.eventsOf("payment.succeeded", payment.paymentId).length === 1, 5_000);
    const again = await h.server.request<{ error: { code: string; status: string } }>(
      "POST",
      `/orders/${orderId}/payment`,
      { user },
    );
    expect([again.status, again.body.error.code]).toEqual([409, "order_not_payable"]);
    expect(PAID_OR_LATER).toContain(again.body.error.status);
  });

  it("refuses forged, altered and stale notifications, and a replayed event id, with nothing applied", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    const providerPaymentId = payment.redirectUrl.split("/").at(-1)!;
    const event = successEvent({ paymentId: payment.paymentId, providerPaymentId, orderId }, PRICE);

    const forged = await h.postNotification(event, { secret: "not-the-secret-but-just-as-long-as-it" });
    expect([forged.status, forged.body.error?.code]).toEqual([400, "webhook_signature_invalid"]);
    const unsigned = await h.server.request<{ error: { code: string } }>("POST", "/webhooks/payments", {
      body: event,
    });
    expect([unsigned.status, unsigned.body.error.code]).toEqual([400, "webhook_signature_invalid"]);
    const stale = await h.postNotification(event, { timestampSeconds: Math.floor(Date.now() / 1000) - 301 });
    expect([stale.status, stale.body.error?.code]).toEqual([400, "webhook_stale"]);
    expect(
      (await h.sql("SELECT 1 FROM payments.webhook_events WHERE event_id = $1", [event.id])).length,
    ).toBe(0);
    expect((await h.order(orderId)).status).toBe("created");

    const taken = await h.postNotification(event);
    expect(taken.status).toBe(202);
    // The same event again, freshly signed (as a provider's redelivery, or an attacker's replay).
    const replayed = await h.postNotification(event);
    expect([replayed.status, replayed.body.error?.code]).toEqual([409, "webhook_replayed"]);
    await h.waitForStatus(orderId, "paid");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.eventsOf("payment.succeeded", payment.paymentId)).toHaveLength(1);
    const metrics = await h.server.request<string>("GET", "/metrics");
    expect(metrics.body).toMatch(
      /floodgate_payments_webhook_response_seconds_count\{outcome="replayed"\} [1-9]/,
    );
    expect(metrics.body).toMatch(
      /floodgate_payments_webhook_response_seconds_count\{outcome="stale"\} [1-9]/,
    );
  });

  it("takes duplicated notifications once: one stored, the copies refused 409, one success", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm", { notification: { duplicates: 4 } });
    await h.waitForStatus(orderId, "paid");
    await eventually(
      async () => (await h.deliveries(payment.redirectUrl)).every((d) => d.status !== "pending"),
      10_000,
      "every copy answered",
    );
    const deliveries = await h.deliveries(payment.redirectUrl);
    expect(deliveries.map((d) => d.status).sort()).toEqual([
      "delivered",
      "refused",
      "refused",
      "refused",
      "refused",
    ]);
    const stored = await h.sql("SELECT event_id FROM payments.webhook_events WHERE payment_id = $1", [
      payment.paymentId,
    ]);
    expect(stored).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.eventsOf("payment.succeeded", payment.paymentId)).toHaveLength(1);
  });

  it("a decline leaves the order unpaid; a new payment may then be opened and paid", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const declined = await h.pay(orderId, user);
    await h.settle(declined, "decline", { reason: "insufficient_funds" });
    await eventually(async () => h.eventsOf("payment.failed", declined.paymentId).length === 1, 10_000);
    expect(h.eventsOf("payment.failed", declined.paymentId)[0]?.data.reason).toBe("insufficient_funds");
    expect((await h.order(orderId)).status).toBe("created");

    const second = await h.pay(orderId, user);
    expect(second.paymentId).not.toBe(declined.paymentId);
    await h.settle(second, "confirm");
    await h.waitForStatus(orderId, "paid");
    const [failed] = await adminPayments(`orderId=${orderId}&status=failed`);
    expect(failed?.id).toBe(declined.paymentId);
  });

  it("reordered notifications: a success delivered before an earlier decline stays a success", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "decline", { notification: { hold: true } });
    await h.settle(payment, "confirm", { notification: { hold: true } });
    expect((await h.order(orderId)).status).toBe("created");
    const released = await fetch(`${h.simulator.url}/test/notifications/release`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ order: "reverse" }),
    });
    expect(await released.json()).toEqual({ released: 2 });
    await h.waitForStatus(orderId, "paid");
    await eventually(
      async () =>
        (
          await h.sql<{ processed_at: unknown }>(
            "SELECT processed_at FROM payments.webhook_events WHERE payment_id = $1",
            [payment.paymentId],
          )
        ).filter((row) => row.processed_at !== null).length === 2,
      10_000,
      "both notifications handled",
    );
    const [stored] = await adminPayments(`orderId=${orderId}`);
    expect(stored?.status).toBe("succeeded");
    expect(h.eventsOf("payment.failed", payment.paymentId)).toHaveLength(0);
    expect(h.eventsOf("payment.succeeded", payment.paymentId)).toHaveLength(1);
  });

  it("a delayed notification pays the order when it arrives", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm", { notification: { delayMs: 1_500 } });
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect((await h.order(orderId)).status).toBe("created");
    await h.waitForStatus(orderId, "paid");
  });

  it("flags a payment of another amount for an operator, and does not pay the order", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm", { amountCents: PRICE - 1000 });
    await eventually(async () => h.eventsOf("payment.flagged", payment.paymentId).length === 1, 10_000);
    expect(h.eventsOf("payment.flagged", payment.paymentId)[0]?.data).toMatchObject({
      amountCents: PRICE - 1000,
      expectedCents: PRICE,
    });
    const flagged = await adminPayments("flagged=true");
    expect(flagged.find((p) => p.id === payment.paymentId)).toMatchObject({
      status: "flagged",
      paidCents: PRICE - 1000,
    });
    expect((await h.order(orderId)).status).toBe("created");
    expect(h.eventsOf("payment.succeeded", payment.paymentId)).toHaveLength(0);
  });

  it("an operator's refund: the provider refunds the payment once, and the order becomes refunded", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm");
    await h.waitForStatus(orderId, "paid");
    const asked = await h.server.request("POST", `/admin/orders/${orderId}/refund`, {
      user: "ops",
      admin: true,
    });
    expect(asked.status).toBe(202);
    await h.waitForStatus(orderId, "refunded");
    const atProvider = await h.simulatorPayment(payment.redirectUrl);
    expect(atProvider.status).toBe("refunded");
    expect(atProvider.refunds).toHaveLength(1);
    expect(h.eventsOf("payment.refunded", payment.paymentId).map((e) => e.data.reason)).toEqual([
      "requested",
    ]);
  });

  it("a refund whose answer was lost is retried with the same key: one refund at the provider", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm");
    await h.waitForStatus(orderId, "paid");
    // The refund's notification is held, so only the retried call can learn that the refund was
    // made: the idempotency key is all that stands between a retry and a second refund.
    await h.behave({ loseRefundAnswers: 1, notifications: { hold: true } });
    await h.server.request("POST", `/admin/orders/${orderId}/refund`, { user: "ops", admin: true });
    await h.waitForStatus(orderId, "refunded");
    await h.behave({ notifications: {} });
    await fetch(`${h.simulator.url}/test/notifications/release`, { method: "POST" });
    const [stored] = await adminPayments(`orderId=${orderId}`);
    expect(stored?.refund?.attempts).toBeGreaterThanOrEqual(2);
    expect((await h.simulatorPayment(payment.redirectUrl)).refunds).toHaveLength(1);
    expect(h.eventsOf("payment.refunded", payment.paymentId)).toHaveLength(1);
  });

  it("a refund the provider fails is retried with backoff until it succeeds", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm");
    await h.waitForStatus(orderId, "paid");
    await h.behave({ failRefunds: 3 });
    await h.server.request("POST", `/admin/orders/${orderId}/refund`, { user: "ops", admin: true });
    await h.waitForStatus(orderId, "refunded", 30_000);
    const [stored] = await adminPayments(`orderId=${orderId}`);
    expect(stored?.refund).toMatchObject({ status: "succeeded", attempts: 4 });
    expect((await h.simulatorPayment(payment.redirectUrl)).refunds).toHaveLength(1);
  });

  it("refunds a payment once however many times the orders service refuses it", async () => {
    const user = newUser();
    const orderId = await h.createdOrder(user);
    const payment = await h.pay(orderId, user);
    await h.settle(payment, "confirm");
    await h.waitForStatus(orderId, "paid");
    // Two refusals of the same payment under different event ids (as two success events for one
    // payment would cause): each is a fresh event to the consumer, so only the refund's own unique
    // key keeps the money from going back twice.
    for (let i = 0; i < 2; i++) {
      const refusal = newEvent("order.payment_refused", {
        orderId,
        userId: user,
        sku: h.sku,
        quantity: 1,
        amountCents: PRICE,
        currency: "EUR",
        paymentId: payment.paymentId,
        reason: "already_paid",
      });
      await h.server.running.platform.stream.append(ORDER_EVENTS_TOPIC, encodeEvent(refusal));
    }
    await eventually(async () => h.eventsOf("payment.refunded", payment.paymentId).length === 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(h.eventsOf("payment.refunded", payment.paymentId)).toHaveLength(1);
    expect((await h.simulatorPayment(payment.redirectUrl)).refunds).toHaveLength(1);
    // A refund for an already_paid payment leaves the order as it is.
    expect(PAID_OR_LATER).toContain((await h.order(orderId)).status);
  });
});
