import type { Counter, Metrics } from "../../platform/observability/metrics.js";

/** What happened to shipments (counted after the change committed). */
export type ShipmentMilestone = "requested" | "created" | "delivered" | "cancelled" | "withdrawn";

/** The fulfilment service's instruments, in the process's registry. */
export class FulfillmentMetrics {
  private readonly shipments: Counter<"event">;
  private readonly carrierCalls: Counter<"operation" | "outcome">;

  constructor(metrics: Metrics) {
    this.shipments = metrics.counter(
      "fulfillment_shipments_total",
      "Shipments by what happened to them: requested (order paid), created (the carrier took it), delivered, cancelled (called back from the carrier), withdrawn (refunded before the carrier was asked).",
      ["event"],
    );
    this.carrierCalls = metrics.counter(
      "fulfillment_carrier_calls_total",
      "Calls to the carrier, by operation (create, track, cancel) and outcome (ok, failed).",
      ["operation", "outcome"],
    );
  }

  shipment(event: ShipmentMilestone): void {
    this.shipments.inc({ event });
  }

  carrierCall(operation: "create" | "track" | "cancel", outcome: "ok" | "failed"): void {
    this.carrierCalls.inc({ operation, outcome });
  }
}
