import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Database } from "../db/database.js";
import { runMigrations } from "../db/migrations.js";
import {
  type CancelOutcome,
  type Carrier,
  CarrierError,
  type CarrierShipment,
  type CarrierShipmentStatus,
  type ShipmentRequest,
} from "./carrier.js";

/** The schema the simulator keeps its parcels in (on the primary database), apart from any service's. */
export const CARRIER_SIMULATOR_SCHEMA = "carrier_simulator";
const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));
/** Interpolated as an SQL identifier, hence this strict shape. */
const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

export interface CarrierSimulatorOptions {
  /** How long after it takes a parcel the simulator delivers it (FLOODGATE_CARRIER_DELIVERY_SECONDS). */
  readonly deliverySeconds: number;
  /** Default `carrier_simulator`; tests use a schema of their own. */
  readonly schema?: string;
  /** Migration progress. */
  readonly log?: (message: string) => void;
}

interface ShipmentRow {
  readonly [column: string]: unknown;
  readonly tracking_number: string;
  readonly status: CarrierShipmentStatus;
  readonly delivery_at: string;
}

/**
 * The bundled carrier: takes every parcel, assigns a tracking number, and delivers it
 * `deliverySeconds` later unless it is cancelled first. It runs in the fulfilment process but keeps
 * its books in the database, as a real carrier keeps them on its side: a parcel taken before a
 * crash is still delivered after it, every process running the simulator sees the same parcels, and
 * a repeated create (same idempotency key) finds the parcel the first one made. Delivery needs no
 * timer: a parcel is delivered once the database's clock passes its `deliver_at`, so nothing is
 * lost when a process dies, and a cancel and a delivery can never both win (one row, one clock).
 */
export class CarrierSimulator implements Carrier {
  readonly name = "simulator";
  private readonly table: string;

  /** Applies the simulator's migration (once per database), then serves from it. */
  static async open(db: Database, options: CarrierSimulatorOptions): Promise<CarrierSimulator> {
    const schema = options.schema ?? CARRIER_SIMULATOR_SCHEMA;
    if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
    await runMigrations(db, schema, MIGRATIONS_DIR, options.log);
    return new CarrierSimulator(db, schema, options.deliverySeconds);
  }

  private constructor(
    private readonly db: Database,
    schema: string,
    private readonly deliverySeconds: number,
  ) {
    this.table = `${schema}.shipments`;
  }

  async createShipment(request: ShipmentRequest): Promise<CarrierShipment> {
    const trackingNumber = `SIM${randomBytes(6).toString("hex").toUpperCase()}`;
    const rows = await this.call(() =>
      this.db.query<ShipmentRow>(
        `WITH taken AS (
           INSERT INTO ${this.table} (idempotency_key, tracking_number, reference, recipient, items, deliver_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, now() + make_interval(secs => $6))
           ON CONFLICT (idempotency_key) DO NOTHING
           RETURNING tracking_number, deliver_at, cancelled_at
         )
         SELECT tracking_number, ${STATUS_SQL} AS status, deliver_at AS delivery_at FROM taken
         UNION ALL
         SELECT tracking_number, ${STATUS_SQL} AS status, deliver_at AS delivery_at
         FROM ${this.table} WHERE idempotency_key = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
        [
          request.idempotencyKey,
          trackingNumber,
          request.reference,
          request.recipient,
          JSON.stringify(request.items),
          this.deliverySeconds,
        ],
      ),
    );
    const [row] = rows;
    // Only when the first create is still uncommitted elsewhere (the CTE cannot see it yet): the
    // caller retries, and then finds it.
    if (!row) throw new CarrierError("unavailable", "a shipment with this key is being created; retry");
    return shipmentOf(row);
  }

  async cancelShipment(trackingNumber: string): Promise<CancelOutcome> {
    const cancelled = await this.call(() =>
      this.db.query(
        `UPDATE ${this.table} SET cancelled_at = now()
         WHERE tracking_number = $1 AND cancelled_at IS NULL AND deliver_at > now()
         RETURNING tracking_number`,
        [trackingNumber],
      ),
    );
    if (cancelled.length > 0) return "cancelled";
    const [known] = await this.track([trackingNumber]);
    if (!known)
      throw new CarrierError("unknown_shipment", `no shipment has tracking number ${trackingNumber}`);
    // Cancelled before (a repeated cancel), or delivered already: in_transit cannot be, as the
    // update above would have taken it.
    return known.status === "cancelled" ? "cancelled" : "delivered";
  }

  async trackShipments(trackingNumbers: readonly string[]): Promise<ReadonlyMap<string, CarrierShipment>> {
    const rows = await this.track(trackingNumbers);
    return new Map(rows.map((row) => [row.tracking_number, shipmentOf(row)]));
  }

  async close(): Promise<void> {
    // The database belongs to the process, not to the simulator.
  }

  private track(trackingNumbers: readonly string[]): Promise<ShipmentRow[]> {
    if (trackingNumbers.length === 0) return Promise.resolve([]);
    return this.call(() =>
      this.db.query<ShipmentRow>(
        `SELECT tracking_number, ${STATUS_SQL} AS status, deliver_at AS delivery_at
         FROM ${this.table} WHERE tracking_number = ANY($1::text[])`,
        [trackingNumbers],
      ),
    );
  }

  /** A database failure is, to the caller, a carrier that did not answer: worth retrying. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CarrierError) throw error;
      throw new CarrierError("unavailable", "the carrier simulator's database failed", { cause: error });
    }
  }
}

/** A parcel's status at this instant, by the database's clock. */
const STATUS_SQL = `CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled'
                         WHEN deliver_at <= now() THEN 'delivered'
                         ELSE 'in_transit' END`;

function shipmentOf(row: ShipmentRow): CarrierShipment {
  return { trackingNumber: row.tracking_number, status: row.status, deliveryAt: row.delivery_at };
}
