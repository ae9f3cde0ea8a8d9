import { writeOutbox } from "../../platform/events/outbox.js";
import { withinTimeout } from "./carrier-call.js";
import { carrierRequestOf, type Shipment } from "./shipment.js";
import { shipmentEvent } from "./shipment-events.js";
import { FULFILLMENT_SCHEMA, ShipmentStore } from "./shipment-store.js";
import { retryLater, type ShipmentSweepOptions } from "./shipment-sweep.js";

/**
 * The compensation of a refund: calls back the parcel of a `cancelling` shipment (→ cancelled, and
 * `shipment.cancelled`), unless the carrier delivered it first (→ delivered, and
 * `shipment.delivered`). Once cancelled, the shipment is out of the delivery sweep's reach, and the
 * carrier will not deliver it either: no delivery follows.
 */
export class ShipmentCanceller {
  constructor(private readonly options: ShipmentSweepOptions) {}

  async sweep(): Promise<number> {
    const { store, batch, leaseSeconds } = this.options;
    const due = await store.claimDue("cancelling", batch, leaseSeconds);
    await Promise.all(due.map((shipment) => this.callBack(shipment)));
    return due.length;
  }

  private async callBack(shipment: Shipment): Promise<void> {
    const { db, carrier, metrics, logger, carrierTimeoutMs } = this.options;
    let trackingNumber = shipment.trackingNumber;
    let outcome: "cancelled" | "delivered";
    try {
      if (trackingNumber === null) {
        // A create was sent but its answer never recorded (the process died, or the call timed
        // out): the carrier may hold a parcel. Asking again with the same key names that parcel,
        // or makes one that is called back at once: either way none is left to travel.
        const parcel = await withinTimeout(
          carrier.createShipment(carrierRequestOf(shipment)),
          carrierTimeoutMs,
          `finding the parcel of order ${shipment.orderId}`,
        );
        metrics.carrierCall("create", "ok");
        trackingNumber = parcel.trackingNumber;
      }
      outcome = await withinTimeout(
        carrier.cancelShipment(trackingNumber),
        carrierTimeoutMs,
        `calling back the parcel of order ${shipment.orderId}`,
      );
      metrics.carrierCall("cancel", "ok");
    } catch (error) {
      metrics.carrierCall(trackingNumber === null ? "create" : "cancel", "failed");
      await retryLater(this.options, shipment, "cancelling", "calling a shipment back", error);
      return;
    }
    const tracking = trackingNumber;
    try {
      const recorded = await db.transaction(async (tx) => {
        await ShipmentStore.rememberTracking(tx, shipment.id, carrier.name, tracking);
        if (outcome === "cancelled") {
          const cancelled = await ShipmentStore.cancelled(
            tx,
            shipment.id,
            "cancelling",
            carrier.name,
            tracking,
          );
          if (!cancelled) return false;
          await writeOutbox(tx, FULFILLMENT_SCHEMA, [
            shipmentEvent("shipment.cancelled", cancelled, { cancelledAt: cancelled.cancelledAt! }),
          ]);
          return true;
        }
        // Too late: it arrived before the call-back. Reported as what it is.
        const deliveredAt = new Date().toISOString();
        const delivered = await ShipmentStore.delivered(tx, shipment.id, "cancelling", deliveredAt);
        if (!delivered) return false;
        await writeOutbox(tx, FULFILLMENT_SCHEMA, [
          shipmentEvent("shipment.delivered", delivered, { deliveredAt }),
        ]);
        return true;
      });
      if (recorded) {
        metrics.shipment(outcome);
        this.options.onEventsWritten();
      }
    } catch (error) {
      // Left cancelling, leased: called back again when the lease runs out (a repeated cancel is
      // harmless: the carrier answers cancelled again).
      logger.error({ err: error, orderId: shipment.orderId }, "recording a call-back failed");
    }
  }
}
