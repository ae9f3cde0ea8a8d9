import type { Database } from "../db/database.js";
import type { Carrier } from "./carrier.js";
import { CarrierSimulator } from "./carrier-simulator.js";

export interface OpenCarrierOptions {
  /** FLOODGATE_CARRIER_DELIVERY_SECONDS: how long the simulator takes to deliver. */
  readonly deliverySeconds: number;
  /** Where the simulator keeps its parcels (the primary database, in a schema of its own). */
  readonly database: Database;
  readonly log?: (message: string) => void;
}

/**
 * The carrier adapter to use. Only the bundled simulator exists so far; a real carrier's adapter is
 * chosen here (by a URL setting, as the payment provider is) when one is written.
 */
export async function openCarrier(options: OpenCarrierOptions): Promise<Carrier> {
  return CarrierSimulator.open(options.database, {
    deliverySeconds: options.deliverySeconds,
    ...(options.log ? { log: options.log } : {}),
  });
}
