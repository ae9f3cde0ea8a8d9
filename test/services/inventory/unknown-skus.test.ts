import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { LocalBroadcast } from "../../../src/platform/broadcast/local-broadcast.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { MemoryReservationBook } from "../../../src/platform/reservations/memory-reservation-book.js";
import { createInventoryApi } from "../../../src/services/inventory/inventory-api.js";
import { NO_SALE_MAX_SKUS, NoSaleSkus } from "../../../src/services/inventory/no-sale-skus.js";
import type { StockReconciliation } from "../../../src/services/inventory/reconciliation.js";
import type { ReservationStore } from "../../../src/services/inventory/reservation-store.js";
import { StockLoader } from "../../../src/services/inventory/stock-loader.js";
import { StockNews } from "../../../src/services/inventory/stock-news.js";
import { StockReservations } from "../../../src/services/inventory/stock-reservations.js";

const HOSTILE_SKUS = 100_000;

/** A full collection, when this process can ask for one (V8's gc exposed at run time). */
function collectGarbage(): boolean {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  if (typeof gc !== "function") return false;
  gc();
  gc();
  return true;
}

/**
 * The inventory's real reserve path (API, reservations, book, loader) over a record that has no
 * sale at all: every lookup of an unknown SKU finds nothing, as the database would.
 */
function inventoryWithoutSales() {
  const lookups = { count: 0 };
  const store = {
    recordForLoad: async () => {
      lookups.count++;
      return undefined;
    },
  } as unknown as ReservationStore;
  const log = createLogger("silent");
  const book = new MemoryReservationBook();
  const news = new StockNews(new LocalBroadcast(), book, log);
  const loader = new StockLoader(book, store, news, log);
  const reservations = new StockReservations({
    book,
    store,
    loader,
    news,
    log,
    outcomes: new Metrics().counter("inventory_reservations_total", "test", ["outcome"]),
    ttlMs: 60_000,
  });
  const noSale = new NoSaleSkus();
  const api = createInventoryApi({
    book,
    store,
    loader,
    reservations,
    reconciliation: {} as StockReconciliation,
    noSale,
  });
  return { api, book, noSale, lookups };
}

describe("orders for unknown SKUs (buyers choose the SKU)", () => {
  it("100,000 distinct made-up SKUs keep the no-sale memory at its cap, and the book empty", async () => {
    const { api, book, noSale, lookups } = inventoryWithoutSales();
    const reserve = (sku: string, n: number) =>
      api.reserve({ orderId: `o${n}`, sku, userId: `u${n % 997}`, quantity: 1, idempotencyKey: `k${n}` });

    const measured = collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let n = 0; n < HOSTILE_SKUS; n++) {
      const answer = await reserve(`NO-SUCH-${n}-${"x".repeat(40)}`, n);
      expect(answer).toMatchObject({ outcome: "refused", reason: "no_sale" });
    }
    expect(lookups.count).toBe(HOSTILE_SKUS);
    expect(noSale.size).toBe(NO_SALE_MAX_SKUS);
    expect(await book.allLevels()).toEqual([]);

    // The most recent unknown SKU is still remembered: asking again costs no lookup.
    await reserve(`NO-SUCH-${HOSTILE_SKUS - 1}-${"x".repeat(40)}`, HOSTILE_SKUS);
    expect(lookups.count).toBe(HOSTILE_SKUS);

    if (measured && collectGarbage()) {
      // Coarse: all 100,000 entries kept take about 28 MB here; the capped 10,000 about 4.
      const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
      expect(grownMb).toBeLessThan(12);
    }
  });
});
