import type { ReservationBook, StockLevels } from "../../platform/reservations/reservation-book.js";
import type { ReconciliationReport, StockDrift } from "./api.js";
import type { RecordedStock, ReservationStore } from "./reservation-store.js";

/** How long a difference must last to count: longer than any reservation write in flight. */
const CONFIRM_AFTER_MS = 1000;

type Figures = { stock: number; reserved: number; sold: number };

/**
 * Compares the live book (memory or Redis) with the database of record, SKU by SKU, and reports
 * where they differ. It never changes either side: which one is right needs a person (a Redis that
 * lost writes, a database restored from backup), and "fixing" the wrong side would oversell.
 *
 * A write in flight makes the two differ for a moment (the book moves first, then the row is
 * committed), so a difference counts only if it is still there, unchanged, a second later.
 */
export class StockReconciliation {
  constructor(
    private readonly book: ReservationBook,
    private readonly store: ReservationStore,
    /** How long a difference must last to count (tests that drive time themselves pass 0). */
    private readonly confirmAfterMs = CONFIRM_AFTER_MS,
  ) {}

  async check(): Promise<ReconciliationReport> {
    const first = await this.differences();
    if (first.size === 0) return { checkedAt: new Date().toISOString(), skus: await this.count(), drift: [] };
    const since = new Date().toISOString();
    if (this.confirmAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, this.confirmAfterMs));
    const second = await this.differences();
    const drift: StockDrift[] = [];
    for (const [sku, now] of second) {
      const before = first.get(sku);
      if (before && JSON.stringify(before) === JSON.stringify(now)) drift.push({ sku, ...now, since });
    }
    return { checkedAt: new Date().toISOString(), skus: await this.count(), drift };
  }

  private async count(): Promise<number> {
    return (await this.store.recordedStock()).length;
  }

  private async differences(): Promise<Map<string, Pick<StockDrift, "live" | "recorded">>> {
    const [recorded, live] = await Promise.all([this.store.recordedStock(), this.book.allLevels()]);
    const liveBySku = new Map(live.map((level) => [level.sku, level]));
    const result = new Map<string, Pick<StockDrift, "live" | "recorded">>();
    for (const row of recorded) {
      const level = liveBySku.get(row.sku);
      if (!level || !same(figures(level), figures(row))) {
        result.set(row.sku, { live: level ? figures(level) : null, recorded: figures(row) });
      }
    }
    return result;
  }
}

function figures(source: StockLevels | RecordedStock): Figures {
  return { stock: source.stock, reserved: source.reserved, sold: source.sold };
}

function same(a: Figures, b: Figures): boolean {
  return a.stock === b.stock && a.reserved === b.reserved && a.sold === b.sold;
}
