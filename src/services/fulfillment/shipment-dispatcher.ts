import type { CarrierShipment } from "../../platform/carrier/carrier.js";
import { writeOutbox } from "../../platform/events/outbox.js";
import { withinTimeout } from "./carrier-call.js";
import { carrierRequestOf, type Shipment } from "./shipment.js";
import { shipmentEvent } from "./shipment-events.js";
import { FULFILLMENT_SCHEMA, ShipmentStore } from "./shipment-store.js";
import { retryLater, type ShipmentSweepOptions } from "./shipment-sweep.js";

/**
 * Hands requested shipments to the carrier (requested → in_transit, and `shipment.created`). The
 * carrier is called outside any transaction, keyed by the order id, and what it answered is then
 * recorded by a conditional update together with the event. A process that dies between the two
 * leaves the shipment requested; whoever takes it next asks again with the same key and gets the
 * same parcel, so the carrier holds one parcel per order and one `shipment.created` is published.
 */
export class ShipmentDispatcher {
  constructor(private readonly options: ShipmentSweepOptions) {}

  async sweep(): Promise<number> {
    const { store, batch, leaseSeconds } = this.options;
    const due = await store.claimDue("requested", batch, leaseSeconds);
    await Promise.all(due.map((shipment) => this.dispatch(shipment)));
    return due.length;
  }

  private async dispatch(shipment: Shipment): Promise<void> {
    const { carrier, metrics, carrierTimeoutMs, logger } = this.options;
    let parcel: CarrierShipment;
    try {
      parcel = await withinTimeout(
        carrier.createShipment(carrierRequestOf(shipment)),
        carrierTimeoutMs,
        `shipping order ${shipment.orderId}`,
      );
      metrics.carrierCall("create", "ok");
    } catch (error) {
      metrics.carrierCall("create", "failed");
      await retryLater(this.options, shipment, "requested", "handing a shipment to the carrier", error);
      return;
    }
    try {
      const shipped = await this.options.db.transaction(async (tx) => {
        const moved = await ShipmentStore.shipped(
          tx,
          shipment.id,
          carrier.name,
          parcel.trackingNumber,
          parcel.deliveryAt,
        );
        if (!moved) {
          // Refunded while the carrier was being asked: the canceller calls this parcel back.
          await ShipmentStore.rememberTracking(tx, shipment.id, carrier.name, parcel.trackingNumber);
          return false;
        }
        await writeOutbox(tx, FULFILLMENT_SCHEMA, [
          shipmentEvent("shipment.created", moved, { expectedDeliveryAt: parcel.deliveryAt }),
        ]);
        return true;
      });
      if (shipped) {
        metrics.shipment("created");
        this.options.onEventsWritten();
      }
    } catch (error) {
      // Left requested, leased: taken again when the lease runs out, and the carrier asked again
      // with the same key.
      logger.error({ err: error, orderId: shipment.orderId }, "recording a shipment the carrier took failed");
    }
  }
}
