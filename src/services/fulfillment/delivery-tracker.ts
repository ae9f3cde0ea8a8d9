import type { CarrierShipment } from "../../platform/carrier/carrier.js";
import { CarrierError } from "../../platform/carrier/carrier.js";
import { writeOutbox } from "../../platform/events/outbox.js";
import { withinTimeout } from "./carrier-call.js";
import type { Shipment } from "./shipment.js";
import { shipmentEvent } from "./shipment-events.js";
import { FULFILLMENT_SCHEMA, ShipmentStore } from "./shipment-store.js";
import { retryLater, type ShipmentSweepOptions } from "./shipment-sweep.js";

/** A parcel the carrier has not delivered by its own estimate is asked about again this much later. */
const LATE_PARCEL_RECHECK_SECONDS = 30;

/**
 * Learns deliveries (in_transit → delivered, and `shipment.delivered`). A shipment in transit is due
 * at the carrier's expected delivery; then the carrier is asked, and a delivery it reports is
 * recorded by a conditional update together with the event, so two processes asking at once, or a
 * refund calling the parcel back at the same moment, publish one outcome.
 */
export class DeliveryTracker {
  constructor(private readonly options: ShipmentSweepOptions) {}

  async sweep(): Promise<number> {
    const { store, batch, leaseSeconds, carrier, carrierTimeoutMs, metrics } = this.options;
    const due = await store.claimDue("in_transit", batch, leaseSeconds);
    if (due.length === 0) return 0;
    let parcels: ReadonlyMap<string, CarrierShipment>;
    try {
      parcels = await withinTimeout(
        carrier.trackShipments(due.map((shipment) => shipment.trackingNumber!)),
        carrierTimeoutMs,
        `tracking ${due.length} shipments`,
      );
      metrics.carrierCall("track", "ok");
    } catch (error) {
      metrics.carrierCall("track", "failed");
      await Promise.all(
        due.map((shipment) => retryLater(this.options, shipment, "in_transit", "tracking a shipment", error)),
      );
      return due.length;
    }
    await Promise.all(due.map((shipment) => this.record(shipment, parcels.get(shipment.trackingNumber!))));
    return due.length;
  }

  private async record(shipment: Shipment, parcel: CarrierShipment | undefined): Promise<void> {
    const { db, store, metrics, logger } = this.options;
    try {
      if (!parcel) {
        const unknown = new CarrierError(
          "unknown_shipment",
          `the carrier does not know tracking number ${shipment.trackingNumber}`,
        );
        await retryLater(this.options, shipment, "in_transit", "tracking a shipment", unknown);
        return;
      }
      if (parcel.status === "in_transit") {
        await store.lookAgainAt(shipment.id, nextLook(parcel.deliveryAt));
        return;
      }
      const outcome = await db.transaction(async (tx) => {
        if (parcel.status === "delivered") {
          const delivered = await ShipmentStore.delivered(tx, shipment.id, "in_transit", parcel.deliveryAt);
          if (!delivered) return undefined;
          await writeOutbox(tx, FULFILLMENT_SCHEMA, [
            shipmentEvent("shipment.delivered", delivered, { deliveredAt: parcel.deliveryAt }),
          ]);
          return "delivered" as const;
        }
        // Called back by the carrier itself (undeliverable, refused): the order is not coming.
        const cancelled = await ShipmentStore.cancelled(
          tx,
          shipment.id,
          "in_transit",
          shipment.carrier!,
          shipment.trackingNumber!,
        );
        if (!cancelled) return undefined;
        await writeOutbox(tx, FULFILLMENT_SCHEMA, [
          shipmentEvent("shipment.cancelled", cancelled, { cancelledAt: cancelled.cancelledAt! }),
        ]);
        return "cancelled" as const;
      });
      if (outcome) {
        metrics.shipment(outcome);
        this.options.onEventsWritten();
      }
    } catch (error) {
      // Left in transit, leased: asked about again when the lease runs out.
      logger.error({ err: error, orderId: shipment.orderId }, "recording a delivery failed");
    }
  }
}

/** When to ask again about a parcel still on its way: at its expected delivery, or later if that passed. */
function nextLook(expectedDeliveryAt: string): string {
  const expected = Date.parse(expectedDeliveryAt);
  const earliest = Date.now() + LATE_PARCEL_RECHECK_SECONDS * 1000;
  return new Date(expected > Date.now() ? expected : earliest).toISOString();
}
