import { describe, expect, it } from "vitest";
import { webhookP99UpperBoundMs } from "../../src/bench/lifecycle/lifecycle-floodgate.js";
import {
  checkLifecycleInvariants,
  checkSyncInvariants,
  type LifecycleAudit,
} from "../../src/bench/lifecycle/lifecycle-invariants.js";
import { resolveLifecycleOptions } from "../../src/bench/lifecycle/lifecycle-options.js";
import { BenchOptionError } from "../../src/bench/options.js";

const ids = ["11", "12", "13"];
const good: LifecycleAudit = {
  paidOrderIds: ids,
  nonFinal: { created: [], paid: [], shipped: [] },
  completedOrderIds: ids,
  emails: ids.flatMap((orderId) => [
    { orderId, kind: "order_confirmation", status: "sent" },
    { orderId, kind: "shipped", status: "sent" },
  ]),
  points: ids.map((orderId) => ({ orderId, kind: "award", points: 49 })),
  expectedPointsPerOrder: 49,
  deliveries: ids.map((orderId) => ({ orderId, status: "delivered" })),
};
const failing = (audit: LifecycleAudit) =>
  checkLifecycleInvariants(audit)
    .filter((invariant) => !invariant.pass)
    .map((invariant) => invariant.name);

describe("lifecycle invariants", () => {
  it("pass for a clean drain", () => {
    expect(failing(good)).toEqual([]);
  });

  it("catch an order left half-way, a second email, a missing award and a wrong-sized one", () => {
    expect(
      failing({ ...good, completedOrderIds: ["11", "12"], nonFinal: { ...good.nonFinal, shipped: ["13"] } }),
    ).toEqual(
      expect.arrayContaining(["every paid order reached completed", "no order left in a non-final state"]),
    );
    expect(
      failing({
        ...good,
        emails: [...good.emails, { orderId: "12", kind: "order_confirmation", status: "sent" }],
      }),
    ).toEqual(["exactly one confirmation email per completed order"]);
    expect(failing({ ...good, points: good.points.slice(1) })).toEqual([
      "exactly one points award per completed order",
    ]);
    expect(failing({ ...good, points: good.points.map((entry) => ({ ...entry, points: 50 })) })).toEqual([
      "exactly one points award per completed order",
    ]);
    expect(
      failing({ ...good, emails: [...good.emails, { orderId: "11", kind: "cancelled", status: "sent" }] }),
    ).toEqual(["no other email, none unsent"]);
    expect(failing({ ...good, deliveries: [{ orderId: "11", status: "pending" }] })).toEqual([
      "every payment notification taken by the webhook",
    ]);
  });

  it("check the sync baseline's own guarantees", () => {
    const sync = {
      paidOrderIds: ids,
      orders: ids.map((id) => ({ id, status: "shipped" })),
      payments: ids.map((orderId) => ({ orderId })),
      shipments: ids.map((orderId) => ({ orderId })),
      emails: ids.map((orderId) => ({ orderId, kind: "order_confirmation" })),
      points: ids.map((orderId) => ({ orderId, kind: "award", points: 49 })),
      expectedPointsPerOrder: 49,
      deliveries: ids.map((orderId) => ({ orderId, status: "delivered" })),
    };
    expect(checkSyncInvariants(sync).every((invariant) => invariant.pass)).toBe(true);
    const twice = checkSyncInvariants({ ...sync, payments: [...sync.payments, { orderId: "11" }] });
    expect(twice.filter((invariant) => !invariant.pass).map((invariant) => invariant.name)).toEqual([
      "exactly one payment per order",
    ]);
  });
});

describe("lifecycle options and metrics", () => {
  it("apply the defaults, take --buyers and --compare sync, refuse other scenarios' options", () => {
    const options = resolveLifecycleOptions({ buyers: "50", compare: "sync" });
    expect(options).toMatchObject({ buyers: 50, compare: ["sync"], runs: 1, carrierSeconds: 1 });
    expect(options.targetEnv.FLOODGATE_CARRIER_DELIVERY_SECONDS).toBe("1");
    expect(resolveLifecycleOptions({}).buyers).toBe(2000);
    expect(() => resolveLifecycleOptions({ compare: "naive" })).toThrow(BenchOptionError);
    expect(() => resolveLifecycleOptions({ rate: "10" } as never)).toThrow(/--rate/);
    expect(() =>
      resolveLifecycleOptions({ targetEnv: ["FLOODGATE_QUEUE_URL=nats://10.0.0.1:4222"] }),
    ).toThrow(/127\.0\.0\.1/);
  });

  it("reads the webhook's p99 bucket from the request histogram", () => {
    const route = 'method="POST",route="/webhooks/payments",status="202"';
    const metrics = [
      `floodgate_http_request_duration_seconds_bucket{le="0.005",${route}} 90`,
      `floodgate_http_request_duration_seconds_bucket{le="0.01",${route}} 99`,
      `floodgate_http_request_duration_seconds_bucket{le="0.025",${route}} 100`,
      `floodgate_http_request_duration_seconds_bucket{le="+Inf",${route}} 100`,
      'floodgate_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/metrics",status="200"} 7',
    ].join("\n");
    expect(webhookP99UpperBoundMs(metrics)).toBe(10);
    expect(webhookP99UpperBoundMs("")).toBeNull();
  });
});
