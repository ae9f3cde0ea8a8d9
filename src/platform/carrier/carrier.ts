/**
 * Carrier port: the shipping company that takes a parcel, gives it a tracking number and delivers
 * it. Floodgate's fulfilment service is its only caller. Adapters live beside this file: today the
 * bundled simulator (`carrier-simulator.ts`); a real carrier's API is plugged in by writing an
 * adapter that keeps the promises below, and choosing it in `open-carrier.ts`. The conformance
 * suite in test/platform/carrier/ checks them on every adapter.
 *
 * What every adapter must honour:
 * - `createShipment` is idempotent by `idempotencyKey`: the same key always means the same
 *   shipment, whatever happened to earlier calls. A caller that timed out, crashed before
 *   recording the answer, or is one of two processes racing, calls again with the same key and
 *   gets the shipment the first call made (same tracking number), never a second parcel. Map it
 *   to the carrier's own idempotency header or customer reference.
 * - `cancelShipment` calls a parcel back if it is not delivered yet, and says which happened. It
 *   is idempotent: cancelling a cancelled shipment answers `cancelled` again.
 * - Deliveries are reported by asking (`trackShipments`), not by a callback the carrier makes:
 *   the caller keeps, in its own database, when each shipment is due to be looked at (the
 *   expected delivery first), so a process that dies loses nothing it was waiting for. A carrier
 *   that pushes webhooks fits the same shape: the webhook only makes the shipment due now, and
 *   the answer of `trackShipments` is what counts, so a forged, lost or repeated push changes
 *   nothing by itself.
 * - Failures reject with `CarrierError`; `retryable` says whether the same call may succeed later.
 *   A call that rejected for a timeout may still have taken effect: the caller retries it (with
 *   the same key), which the idempotency above makes harmless.
 */
export interface Carrier {
  /** For logs and the shipment record, e.g. `simulator`. */
  readonly name: string;
  createShipment(request: ShipmentRequest): Promise<CarrierShipment>;
  cancelShipment(trackingNumber: string): Promise<CancelOutcome>;
  /**
   * What the carrier knows of each shipment; tracking numbers it does not know are absent from
   * the answer.
   */
  trackShipments(trackingNumbers: readonly string[]): Promise<ReadonlyMap<string, CarrierShipment>>;
  close(): Promise<void>;
}

export interface ShipmentRequest {
  /** The same key always names the same shipment (Floodgate uses the order id: one parcel per order). */
  readonly idempotencyKey: string;
  /** The shipper's own reference, printed on the label (the order id). */
  readonly reference: string;
  /** Who receives it. Floodgate keeps no addresses yet, so this is the buyer's user id. */
  readonly recipient: string;
  readonly items: readonly ShipmentItem[];
}

export interface ShipmentItem {
  readonly sku: string;
  readonly quantity: number;
}

export type CarrierShipmentStatus = "in_transit" | "delivered" | "cancelled";

export interface CarrierShipment {
  readonly trackingNumber: string;
  readonly status: CarrierShipmentStatus;
  /** ISO 8601: when the carrier expects to deliver (`in_transit`), or delivered (`delivered`). */
  readonly deliveryAt: string;
}

/** `delivered`: too late, the parcel had already arrived. */
export type CancelOutcome = "cancelled" | "delivered";

export type CarrierErrorCode = "unavailable" | "unknown_shipment" | "rejected";

/**
 * What a carrier call failed with. `unavailable` (network, timeout, 5xx) is worth retrying;
 * `unknown_shipment` (no such tracking number) and `rejected` (the carrier refused the request)
 * are not, without someone changing something first.
 */
export class CarrierError extends Error {
  override readonly name = "CarrierError";

  constructor(
    readonly code: CarrierErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    return this.code === "unavailable";
  }
}
