import type { Logger } from "../../platform/observability/logger.js";
import type { Gauge } from "../../platform/observability/metrics.js";
import type { ReservationBook } from "../../platform/reservations/reservation-book.js";
import type { StockDrift } from "./api.js";
import type { StockReconciliation } from "./reconciliation.js";
import type { StockLoader } from "./stock-loader.js";

/**
 * Turns reconciliation reports into what operators see (the drift gauge, one log line per SKU
 * when drift starts and when it ends) and repairs the one kind of drift that has only one right
 * answer: a book holding fewer units than the record (it forgot reservations the record has, or
 * lost the SKU) is behind, and is reloaded from the record. The other direction (the book holds
 * more) is what a write in flight or a release not yet mirrored looks like, or a hand-edited
 * Redis: it is reported, never "fixed" (writing the wrong side would oversell).
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
      if (isBehind(drift)) {
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

/** The book holds fewer units than the record: it cannot be ahead, so it is behind. */
function isBehind(drift: StockDrift): boolean {
  if (!drift.recorded) return false;
  if (!drift.live) return true;
  return drift.live.reserved + drift.live.sold < drift.recorded.reserved + drift.recorded.sold;
}
