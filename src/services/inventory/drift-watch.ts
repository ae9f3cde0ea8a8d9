import type { Logger } from "../../platform/observability/logger.js";
import type { Gauge } from "../../platform/observability/metrics.js";
import type { ReservationBook } from "../../platform/reservations/reservation-book.js";
import type { StockReconciliation } from "./reconciliation.js";
import type { StockLoader } from "./stock-loader.js";

/**
 * Turns reconciliation reports into what operators see (the drift gauge, one log line per SKU
 * when drift starts and when it ends) and repairs it: a SKU whose book has differed from the
 * record, unchanged, for the reconciliation's confirmation time is reloaded from the record.
 *
 * Both directions. A book holding fewer units forgot reservations the record has, or lost the
 * SKU. A book holding more still holds units the record gave back (a cancelled order's release
 * whose mirror failed, a Redis restored from an older snapshot, a reservation whose inventory
 * process died before its row was written: never answered, since answers follow the row) or was
 * edited by hand. The record is right either way: every reservation is re-checked against it
 * when its row is written, and a reload mints a new epoch, so a write in flight on the old load
 * is refused and retried on the new one rather than lost or oversold.
 */
export class DriftWatch {
  private readonly reported = new Set<string>();

  constructor(
    private readonly reconciliation: StockReconciliation,
    private readonly book: ReservationBook,
    private readonly loader: StockLoader,
    /** inventory_stock_drift_units{sku,state} */
    private readonly gauge: Gauge<"sku" | "state">,
    private readonly log: Logger,
  ) {}

  async check(): Promise<void> {
    const report = await this.reconciliation.check();
    this.gauge.reset();
    for (const drift of report.drift) {
      const live = drift.live ?? { stock: 0, reserved: 0, sold: 0 };
      const recorded = drift.recorded ?? { stock: 0, reserved: 0, sold: 0 };
      for (const state of ["stock", "reserved", "sold"] as const) {
        this.gauge.set({ sku: drift.sku, state }, live[state] - recorded[state]);
      }
      if (!this.reported.has(drift.sku))
        this.log.error({ drift }, "live stock differs from the database of record");
      if (drift.recorded) {
        const levels = await this.book.levels(drift.sku);
        await this.loader.reload(drift.sku, levels?.epoch);
      }
    }
    const now = new Set(report.drift.map((d) => d.sku));
    for (const sku of this.reported) if (!now.has(sku)) this.log.info({ sku }, "stock drift resolved");
    this.reported.clear();
    for (const sku of now) this.reported.add(sku);
  }
}
