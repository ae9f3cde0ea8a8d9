import { fileURLToPath } from "node:url";
import { LowPriorityWork } from "../../platform/batching/low-priority-work.js";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import { ORDER_EVENTS_TOPIC } from "../orders/order-events.js";
import type { ServiceModule } from "../service-module.js";
import { INVENTORY_OPERATIONS, type InventoryApi } from "./api.js";
import { DriftWatch } from "./drift-watch.js";
import { createInventoryApi } from "./inventory-api.js";
import { StockReconciliation } from "./reconciliation.js";
import { ReservationStore } from "./reservation-store.js";
import { ReservationSweeper } from "./reservation-sweeper.js";
import { StockLoader } from "./stock-loader.js";
import { StockNews } from "./stock-news.js";
import { StockReservations } from "./stock-reservations.js";
import { WriterLease } from "./writer-lease.js";

const SWEEP_INTERVAL_MS = 1000;
/** A crashed holder's lease expires in 15 s; a restart waits a little longer than that for it. */
const LEASE_WAIT_MS = 20_000;

export const inventoryService: ServiceModule<InventoryApi> = {
  name: "inventory",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: INVENTORY_OPERATIONS,
  async start(context) {
    const { metrics, logger, reservations: book, broadcast } = context;
    const log = logger.child({ service: "inventory" });
    const store = new ReservationStore(context.databases.primary);
    // A book in this process's memory must be the only one writing to the database: embedded, the
    // data dir's lock sees to that; on a shared database, the lease. A Redis book is shared by design.
    const lease =
      !book.shared && context.config.databaseUrls ? new WriterLease(context.databases.primary) : undefined;
    await lease?.acquire(LEASE_WAIT_MS);

    const news = new StockNews(broadcast, book, log);
    const loader = new StockLoader(book, store, news, log);
    const atStart = await loader.loadAll();
    log.info(
      { sales: atStart.found, loadedIntoBook: atStart.loaded, shared: book.shared },
      "live stock ready",
    );

    const outcomes = metrics.counter("inventory_reservations_total", "Reservation attempts by outcome.", [
      "outcome",
    ]);
    metrics.gauge(
      "inventory_stock_units",
      "Stock units per SKU and state.",
      ["sku", "state"],
      async (gauge) => {
        gauge.reset();
        for (const level of await book.allLevels()) {
          gauge.set({ sku: level.sku, state: "available" }, level.available);
          gauge.set({ sku: level.sku, state: "reserved" }, level.reserved);
          gauge.set({ sku: level.sku, state: "sold" }, level.sold);
        }
      },
    );
    const reservations = new StockReservations({
      book,
      store,
      loader,
      news,
      log,
      outcomes,
      ttlMs: context.config.reservationTtlSeconds * 1000,
    });
    const backlog = () => context.clients.orders.backlog();
    const sweeper = new ReservationSweeper({ book, store, reservations, backlog, log });
    const reconciliation = new StockReconciliation(book, store);
    const driftWatch = new DriftWatch(
      reconciliation,
      book,
      loader,
      metrics.gauge(
        "inventory_stock_drift_units",
        "Live stock minus the database of record, per SKU and state, where they disagree (0 = none).",
        ["sku", "state"],
      ),
      log,
    );
    const api = createInventoryApi({ book, store, loader, reservations, reconciliation, lease });

    // A cancelled order's units go back on sale; so do a refunded order's, if it had not shipped.
    const onOrders = new EventConsumer({
      stream: context.stream,
      topic: ORDER_EVENTS_TOPIC,
      group: "inventory.on-orders",
      database: () => context.databases.primary,
      schema: "inventory",
      types: ["order.cancelled", "order.refunded"],
      logger: log,
      metrics,
      handle: async (event, tx, afterCommit) => {
        const data = event.data as { orderId?: string; sku?: string; from?: string };
        const returnsStock =
          event.type === "order.cancelled" || (event.type === "order.refunded" && data.from === "paid");
        if (!returnsStock || typeof data.orderId !== "string" || typeof data.sku !== "string") return;
        await reservations.releaseCancelled(tx, [{ orderId: data.orderId, sku: data.sku }], afterCommit);
      },
    });
    onOrders.start();

    // What a sweep costs must not grow with the orders a sale has taken (docs/architecture.md).
    const sweepSeconds = metrics.counter(
      "inventory_sweep_seconds_total",
      "Time spent sweeping reservations (expired, abandoned releases), database round trips included.",
    );
    let sweeping: Promise<void> | undefined;
    const sweepTimer = setInterval(() => {
      const started = performance.now();
      sweeping ??= sweeper
        .sweep()
        .catch((error: unknown) => log.error({ err: error }, "sweeping reservations failed"))
        .finally(() => {
          sweepSeconds.inc((performance.now() - started) / 1000);
          sweeping = undefined;
        });
    }, SWEEP_INTERVAL_MS);
    sweepTimer.unref();

    const lowPriority = new LowPriorityWork({
      lag: async () => (await backlog()).pending,
      maxLag: context.config.lowPriorityMaxLag,
      intervalMs: context.config.reconcileIntervalSeconds * 1000,
      logger: log,
      metrics,
    });
    lowPriority.add("stock-reconciliation", () => driftWatch.check());
    lowPriority.start();

    return {
      api,
      routes: () => {},
      stop: async () => {
        await onOrders.stop();
        clearInterval(sweepTimer);
        await sweeping;
        await lowPriority.stop();
        await reservations.drain();
        await lease?.release();
      },
    };
  },
};
