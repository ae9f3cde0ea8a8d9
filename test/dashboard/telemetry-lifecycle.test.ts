import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TelemetrySample } from "../../src/platform/observability/telemetry.js";
import { listMail } from "../services/notifications/admin-mail.js";
import { type PaymentsHarness, startPaymentsHarness } from "../services/payments/payments-harness.js";
import { eventually } from "../support/test-server.js";

/** openSale's price: 19.99 EUR, so 19 points per order at the default rate of one per euro. */
const POINTS_PER_ORDER = 19;

/**
 * The telemetry sample follows an order's life through the real services in one process: orders
 * by the status they entered (and per second), payments by outcome, emails sent by kind and
 * loyalty points, each equal to what the process did, as the dashboard shows them.
 */
describe("telemetry through orders' lives (every service in one process)", () => {
  let h: PaymentsHarness;
  let samples: TelemetrySample[];

  const series = async () =>
    (await h.server.request<{ samples: TelemetrySample[] }>("GET", "/dashboard/series?since=0")).body.samples;

  /** Places an order and pays it through the payment simulator; resolves once it is completed. */
  const completedOrder = async (user: string) => {
    const orderId = await h.createdOrder(user);
    await h.settle(await h.pay(orderId, user), "confirm");
    await h.waitForStatus(orderId, "completed", 30_000);
    return orderId;
  };

  beforeAll(async () => {
    // The carrier delivers at once: a paid order is shipped and completed within seconds.
    h = await startPaymentsHarness({ carrierDeliverySeconds: "0" });

    // 1. Paid, shipped, delivered: completed, with its points.
    await completedOrder("telemetry-a");

    // 2. Completed, then refunded by an operator: its points are taken back.
    const refunded = await completedOrder("telemetry-b");
    const asked = await h.server.request("POST", `/admin/orders/${refunded}/refund`, {
      user: "ops",
      admin: true,
    });
    expect(asked.status).toBe(202);
    await h.waitForStatus(refunded, "refunded", 30_000);

    // 3. Declined, then unpaid at its deadline (moved to now, rather than waiting 15 minutes): cancelled.
    const unpaid = await h.createdOrder("telemetry-c");
    const declined = await h.pay(unpaid, "telemetry-c");
    await h.settle(declined, "decline", { reason: "insufficient_funds" });
    await eventually(async () => h.eventsOf("payment.failed", declined.paymentId).length === 1, 10_000);
    for (const db of h.server.running.platform.databases.all()) {
      await db.query("UPDATE orders.orders SET payment_due_at = now() - interval '1 second' WHERE id = $1", [
        unpaid,
      ]);
    }
    await h.waitForStatus(unpaid, "cancelled", 20_000);

    // Two confirmations, two shipping notices, one cancellation.
    await eventually(
      async () => {
        const mail = await listMail(h.server);
        return mail.length === 5 && mail.every((email) => email.status === "sent");
      },
      20_000,
      "five emails sent",
    );
    await eventually(
      async () => {
        samples = await series();
        const latest = samples.at(-1);
        return latest?.loyaltyPoints.reversed === POINTS_PER_ORDER && latest.emailsSent.cancelled === 1;
      },
      20_000,
      "a sample with everything in it",
    );
  }, 180_000);
  afterAll(async () => h?.close());

  it("counts orders by the status they entered, once per committed transition", async () => {
    const latest = samples.at(-1)!;
    expect(latest.orderStatuses).toEqual({
      created: 3,
      paid: 2,
      shipped: 2,
      completed: 2,
      cancelled: 1,
      refunded: 1,
    });
    expect(latest.orders.stored).toBe(3);
    // The obsolete cancellation counter is gone from the sample.
    expect(Object.keys(latest.orders).filter((key) => key.startsWith("cancelled"))).toEqual([]);
    // The same figures as /metrics, where the transitions are counted with their causes.
    const metrics = (await h.server.request<string>("GET", "/metrics")).body;
    for (const [to, cause, count] of [
      ["paid", "payment_succeeded", 2],
      ["shipped", "shipment_created", 2],
      ["completed", "delivered", 2],
      ["cancelled", "payment_timeout", 1],
      ["refunded", "refunded", 1],
    ] as const) {
      expect(metrics).toContain(`floodgate_orders_transitions_total{to="${to}",cause="${cause}"} ${count}`);
    }
  });

  it("draws orders by status over time: the per-second rates add up to the counts", () => {
    const first = samples[0]!;
    const latest = samples.at(-1)!;
    for (const status of Object.keys(latest.orderStatuses) as (keyof TelemetrySample["orderStatuses"])[]) {
      let integrated = 0;
      for (let i = 1; i < samples.length; i++) {
        integrated +=
          (samples[i]!.orderStatusesPerSecond[status] * (samples[i]!.at - samples[i - 1]!.at)) / 1000;
      }
      expect(integrated, status).toBeCloseTo(latest.orderStatuses[status] - first.orderStatuses[status], 6);
      expect(
        Math.max(...samples.map((sample) => sample.orderStatusesPerSecond[status])),
        status,
      ).toBeGreaterThan(0);
    }
  });

  it("counts payments by outcome, emails sent by kind and loyalty points", () => {
    const latest = samples.at(-1)!;
    expect(latest.payments).toEqual({ opened: 3, succeeded: 2, failed: 1, refunded: 1 });
    expect(latest.emailsSent).toEqual({ order_confirmation: 2, shipped: 2, cancelled: 1 });
    expect(latest.emailAttemptsFailed).toEqual({});
    expect(latest.loyaltyPoints).toEqual({ awarded: 2 * POINTS_PER_ORDER, reversed: POINTS_PER_ORDER });
  });
});
