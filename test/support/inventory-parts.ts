import { LocalBroadcast } from "../../src/platform/broadcast/local-broadcast.js";
import type { Database } from "../../src/platform/db/database.js";
import type { Logger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import type { ReservationBook } from "../../src/platform/reservations/reservation-book.js";
import { createInventoryApi } from "../../src/services/inventory/inventory-api.js";
import { StockReconciliation } from "../../src/services/inventory/reconciliation.js";
import { ReservationStore } from "../../src/services/inventory/reservation-store.js";
import { StockLoader } from "../../src/services/inventory/stock-loader.js";
import { StockNews } from "../../src/services/inventory/stock-news.js";
import { StockReservations } from "../../src/services/inventory/stock-reservations.js";

/**
 * The inventory's parts wired as its service wires them, around a book and a database the test
 * chooses, without booting the service: for tests that drive one part (the sweeper, the drift
 * watch) or interleave them (the race explorer).
 */
export function inventoryParts(options: {
  readonly book: ReservationBook;
  readonly db: Database;
  readonly logger: Logger;
  readonly ttlMs: number;
  readonly broadcast?: LocalBroadcast;
}) {
  const { book, db, logger, ttlMs } = options;
  const broadcast = options.broadcast ?? new LocalBroadcast();
  const metrics = new Metrics({}, { processMetrics: false });
  const store = new ReservationStore(db);
  const news = new StockNews(broadcast, book, logger);
  const loader = new StockLoader(book, store, news, logger);
  const reservations = new StockReservations({
    book,
    store,
    loader,
    news,
    log: logger,
    outcomes: metrics.counter("inventory_reservations_total", "Reservation attempts by outcome.", [
      "outcome",
    ]),
    ttlMs,
  });
  const reconciliation = new StockReconciliation(book, store, 0);
  const inventory = createInventoryApi({ book, store, loader, reservations, reconciliation });
  return { broadcast, metrics, store, news, loader, reservations, reconciliation, inventory };
}
