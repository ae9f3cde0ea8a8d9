import type { Carrier } from "../../platform/carrier/carrier.js";
import { CarrierError } from "../../platform/carrier/carrier.js";
import type { Database } from "../../platform/db/database.js";
import { backoffWithJitter } from "../../platform/events/backoff.js";
import type { Logger } from "../../platform/observability/logger.js";
import { describeFailure } from "./carrier-call.js";
import type { FulfillmentMetrics } from "./fulfillment-metrics.js";
import type { PendingShipmentStatus, Shipment } from "./shipment.js";
import type { ShipmentStore } from "./shipment-store.js";

/** What the three sweeps (dispatch, delivery, call-back) share. */
export interface ShipmentSweepOptions {
  readonly db: Database;
  readonly store: ShipmentStore;
  readonly carrier: Carrier;
  readonly metrics: FulfillmentMetrics;
  readonly logger: Logger;
  /** Shipments taken per pass. */
  readonly batch: number;
  /** How long a taken shipment stays this process's before another may take it (it may have died). */
  readonly leaseSeconds: number;
  /** One carrier call's limit; well under the lease, so a call ends before another process may begin. */
  readonly carrierTimeoutMs: number;
  /** Backoff after a failed carrier call: full jitter from this base, up to the cap. */
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  /** After a commit that wrote events to the outbox: relay them now. */
  readonly onEventsWritten: () => void;
}

/**
 * A carrier call for this shipment failed: it is tried again after a backoff with jitter (the
 * carrier being down for everyone, the shipments must not all come back at once). There are no
 * dead letters here: a shipment stays due until the carrier answers, and its row shows the
 * attempts and the last error meanwhile.
 */
export async function retryLater(
  options: ShipmentSweepOptions,
  shipment: Shipment,
  status: PendingShipmentStatus,
  step: string,
  error: unknown,
): Promise<void> {
  const delayMs = backoffWithJitter(shipment.attempts, options.retryBaseMs, options.retryCapMs);
  const permanent = error instanceof CarrierError && !error.retryable;
  options.logger[permanent ? "error" : "warn"](
    {
      err: error,
      orderId: shipment.orderId,
      shipmentId: shipment.id,
      attempt: shipment.attempts,
      retryInMs: delayMs,
    },
    `${step} failed; it will be tried again`,
  );
  try {
    await options.store.retryLater(shipment.id, status, delayMs, describeFailure(error));
  } catch (recording) {
    // Then it comes due again when its lease runs out: later than planned, never lost.
    options.logger.error({ err: recording, orderId: shipment.orderId }, "recording a retry failed");
  }
}
