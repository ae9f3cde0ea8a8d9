import type { InvariantResult } from "../invariants.js";

/** What the bench read back after the drain, through the target's own APIs. */
export interface LifecycleAudit {
  /** The orders the burst paid (one per buyer). */
  readonly paidOrderIds: readonly string[];
  /** Orders found in each status the lifecycle must not end in (created, paid, shipped). */
  readonly nonFinal: Readonly<Record<string, readonly string[]>>;
  /** Every completed order, all pages. */
  readonly completedOrderIds: readonly string[];
  /** Every email recorded: its order, kind and sending status. */
  readonly emails: readonly {
    readonly orderId: string | null;
    readonly kind: string;
    readonly status: string;
  }[];
  /** Every buyer's points entries. */
  readonly points: readonly { readonly orderId: string; readonly kind: string; readonly points: number }[];
  /** Points one order earns (the price at the configured rate). */
  readonly expectedPointsPerOrder: number;
  /** Each payment notification's delivery as the simulator saw it: `delivered` once taken (2xx). */
  readonly deliveries: readonly { readonly orderId: string; readonly status: string }[];
}

const sample = (ids: readonly string[]) => `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}`;

function exactlyOne(
  name: string,
  completed: readonly string[],
  counts: ReadonlyMap<string, number>,
  what: string,
): InvariantResult {
  const wrong = completed.filter((id) => counts.get(id) !== 1);
  const expected = new Set(completed);
  const strays = [...counts.keys()].filter((id) => !expected.has(id));
  return {
    name,
    pass: wrong.length === 0 && strays.length === 0 && completed.length > 0,
    detail:
      wrong.length === 0 && strays.length === 0
        ? `${completed.length} orders, one ${what} each`
        : `${wrong.length} orders without exactly one ${what}${wrong.length ? ` (${sample(wrong)})` : ""}; ${strays.length} for other orders${strays.length ? ` (${sample(strays)})` : ""}`,
  };
}

const countBy = <T>(items: readonly T[], key: (item: T) => string | null) => {
  const counts = new Map<string, number>();
  for (const item of items) {
    const id = key(item);
    if (id !== null) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
};

/**
 * The lifecycle's guarantees after the drain, decided from what the target reported (pure, so
 * crafted audits test it): every paid order completed and none left half-way; one confirmation and
 * one shipping email, sent, per completed order and no other email; one points award of the right
 * size per completed order; every notification taken by the webhook.
 */
export function checkLifecycleInvariants(audit: LifecycleAudit): InvariantResult[] {
  const completed = [...new Set(audit.completedOrderIds)];
  const completedSet = new Set(completed);
  const notCompleted = audit.paidOrderIds.filter((id) => !completedSet.has(id));
  const stuck = Object.entries(audit.nonFinal).filter(([, ids]) => ids.length > 0);
  const sentOfKind = (kind: string) =>
    countBy(
      audit.emails.filter((email) => email.kind === kind && email.status === "sent"),
      (email) => email.orderId,
    );
  const unsent = audit.emails.filter((email) => email.status !== "sent");
  const otherKinds = audit.emails.filter(
    (email) => email.kind !== "order_confirmation" && email.kind !== "shipped",
  );
  const awards = audit.points.filter((entry) => entry.kind === "award");
  const wrongSize = awards.filter((entry) => entry.points !== audit.expectedPointsPerOrder);
  const reversals = audit.points.filter((entry) => entry.kind !== "award");
  const undelivered = audit.deliveries.filter((delivery) => delivery.status !== "delivered");
  const delivered = new Set(audit.deliveries.map((delivery) => delivery.orderId));
  const noNotification = audit.paidOrderIds.filter((id) => !delivered.has(id));

  return [
    {
      name: "every paid order reached completed",
      pass: notCompleted.length === 0 && audit.paidOrderIds.length > 0,
      detail:
        notCompleted.length === 0
          ? `${audit.paidOrderIds.length} paid, ${completed.length} completed`
          : `${notCompleted.length} of ${audit.paidOrderIds.length} paid orders not completed: ${sample(notCompleted)}`,
    },
    {
      name: "no order left in a non-final state",
      pass: stuck.length === 0,
      detail:
        stuck.length === 0
          ? `none ${Object.keys(audit.nonFinal).join(", ")}`
          : stuck.map(([status, ids]) => `${ids.length} ${status} (${sample(ids)})`).join("; "),
    },
    exactlyOne(
      "exactly one confirmation email per completed order",
      completed,
      sentOfKind("order_confirmation"),
      "order_confirmation email sent",
    ),
    exactlyOne(
      "exactly one shipping email per completed order",
      completed,
      sentOfKind("shipped"),
      "shipped email sent",
    ),
    {
      name: "no other email, none unsent",
      pass: otherKinds.length === 0 && unsent.length === 0,
      detail: `${otherKinds.length} emails of other kinds, ${unsent.length} not sent`,
    },
    {
      ...exactlyOne(
        "exactly one points award per completed order",
        completed,
        countBy(awards, (entry) => entry.orderId),
        "award",
      ),
      ...(wrongSize.length > 0 || reversals.length > 0
        ? {
            pass: false,
            detail: `${wrongSize.length} awards not of ${audit.expectedPointsPerOrder} points; ${reversals.length} reversals`,
          }
        : {}),
    },
    {
      name: "every payment notification taken by the webhook",
      pass: undelivered.length === 0 && noNotification.length === 0,
      detail:
        undelivered.length === 0 && noNotification.length === 0
          ? `${audit.deliveries.length} notifications delivered (2xx)`
          : `${undelivered.length} not delivered; ${noNotification.length} paid orders without a notification`,
    },
  ];
}

/** What the sync baseline reports after its notifications were all taken. */
export interface SyncAudit {
  readonly paidOrderIds: readonly string[];
  readonly orders: readonly { readonly id: string; readonly status: string }[];
  readonly payments: readonly { readonly orderId: string }[];
  readonly shipments: readonly { readonly orderId: string }[];
  readonly emails: readonly { readonly orderId: string; readonly kind: string }[];
  readonly points: readonly { readonly orderId: string; readonly kind: string; readonly points: number }[];
  readonly expectedPointsPerOrder: number;
  readonly deliveries: readonly { readonly orderId: string; readonly status: string }[];
}

/**
 * The synchronous design's guarantees (it ships inline and has no completion step): each paid
 * order paid once and shipped, one confirmation email and one points award each, every
 * notification taken.
 */
export function checkSyncInvariants(audit: SyncAudit): InvariantResult[] {
  const paid = audit.paidOrderIds;
  const status = new Map(audit.orders.map((order) => [order.id, order.status]));
  const notShipped = paid.filter((id) => status.get(id) !== "shipped");
  const one = (name: string, counts: ReadonlyMap<string, number>, what: string) =>
    exactlyOne(name, paid, counts, what);
  const undelivered = audit.deliveries.filter((delivery) => delivery.status !== "delivered");
  const wrongSize = audit.points.filter((entry) => entry.points !== audit.expectedPointsPerOrder);
  return [
    {
      name: "every paid order is paid and shipped",
      pass: notShipped.length === 0 && paid.length > 0,
      detail:
        notShipped.length === 0
          ? `${paid.length} shipped`
          : `${notShipped.length} not shipped: ${sample(notShipped)}`,
    },
    one(
      "exactly one payment per order",
      countBy(audit.payments, (row) => row.orderId),
      "payment",
    ),
    one(
      "exactly one shipment per order",
      countBy(audit.shipments, (row) => row.orderId),
      "shipment",
    ),
    one(
      "exactly one confirmation email per order",
      countBy(
        audit.emails.filter((email) => email.kind === "order_confirmation"),
        (email) => email.orderId,
      ),
      "confirmation email",
    ),
    {
      ...one(
        "exactly one points award per order",
        countBy(audit.points, (entry) => entry.orderId),
        "award",
      ),
      ...(wrongSize.length > 0
        ? { pass: false, detail: `${wrongSize.length} awards not of ${audit.expectedPointsPerOrder} points` }
        : {}),
    },
    {
      name: "every payment notification taken by the webhook",
      pass: undelivered.length === 0 && audit.deliveries.length === paid.length,
      detail: `${audit.deliveries.length - undelivered.length} of ${paid.length} notifications delivered (2xx)`,
    },
  ];
}
