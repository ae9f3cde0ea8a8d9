import { fileURLToPath } from "node:url";
import { GroupCommit } from "../../platform/batching/group-commit.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { ServiceModule } from "../service-module.js";
import { INVENTORY_OPERATIONS, type InventoryApi, type StockTerms } from "./api.js";
import { type LedgerWrite, ReservationStore } from "./reservation-store.js";
import { StockLedger } from "./stock-ledger.js";

const SWEEP_INTERVAL_MS = 1000;

export const inventoryService: ServiceModule<InventoryApi> = {
  name: "inventory",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: INVENTORY_OPERATIONS,
  async start(context) {
    const { metrics, logger } = context;
    const log = logger.child({ service: "inventory" });
    const store = new ReservationStore(context.databases.primary);
    const ledger = new StockLedger();
    for (const terms of await store.allStock()) ledger.defineSale(terms);
    const live = await store.liveReservations();
    for (const reservation of live) ledger.restore(reservation);
    log.info({ sales: ledger.allLevels().length, liveReservations: live.length }, "stock ledger rebuilt");

    const writer = new GroupCommit<LedgerWrite>((writes) => store.apply(writes));
    /** Reservations whose row is not yet committed: a duplicate request waits for the original. */
    const durability = new Map<string, Promise<void>>();
    const ttlMs = context.config.reservationTtlSeconds * 1000;

    const outcomes = metrics.counter("inventory_reservations_total", "Reservation attempts by outcome.", [
      "outcome",
    ]);
    metrics.gauge("inventory_stock_units", "Stock units per SKU and state.", ["sku", "state"], (gauge) => {
      gauge.reset();
      for (const level of ledger.allLevels()) {
        gauge.set({ sku: level.sku, state: "available" }, level.available);
        gauge.set({ sku: level.sku, state: "reserved" }, level.reserved);
        gauge.set({ sku: level.sku, state: "sold" }, level.sold);
      }
    });

    const releaseAll = async (orderIds: readonly string[]): Promise<string[]> => {
      const released: string[] = [];
      const writes: Promise<void>[] = [];
      for (const orderId of orderIds) {
        if (!ledger.release(orderId)) continue;
        released.push(orderId);
        writes.push(writer.submit({ kind: "status", orderId, status: "released" }));
      }
      await Promise.all(writes);
      return released;
    };

    const api: InventoryApi = {
      async defineStock(terms: StockTerms) {
        if (Date.parse(terms.endsAt) <= Date.parse(terms.startsAt)) throw new AppError("invalid_sale_window");
        if (!(await store.insertStock(terms))) {
          throw new AppError("sale_exists", `Stock for SKU "${terms.sku}" is already on sale.`);
        }
        ledger.defineSale(terms);
        return ledger.levels(terms.sku)!;
      },

      async reserve(request) {
        const decision = ledger.reserve(request, Date.now(), ttlMs);
        if (decision.kind === "refused") {
          outcomes.inc({ outcome: decision.reason });
          return { outcome: "refused", reason: decision.reason, available: decision.available };
        }
        const { reservation } = decision;
        if (decision.kind === "duplicate") {
          outcomes.inc({ outcome: "duplicate" });
          await durability.get(reservation.orderId);
          return {
            outcome: "duplicate",
            orderId: reservation.orderId,
            sku: reservation.sku,
            quantity: reservation.quantity,
          };
        }
        const written = writer.submit({ kind: "insert", reservation });
        durability.set(reservation.orderId, written);
        try {
          await written;
        } catch (error) {
          ledger.forget(reservation.orderId);
          log.error({ err: error }, "reservation write failed");
          outcomes.inc({ outcome: "write_failed" });
          throw new AppError("not_accepted", undefined, 1);
        } finally {
          durability.delete(reservation.orderId);
        }
        outcomes.inc({ outcome: "reserved" });
        return { outcome: "reserved", orderId: reservation.orderId };
      },

      async release({ orderIds }) {
        return { released: await releaseAll(orderIds) };
      },

      async confirm({ orderIds }) {
        const confirmed: string[] = [];
        const notConfirmed: string[] = [];
        const writes: Promise<void>[] = [];
        for (const orderId of orderIds) {
          if (ledger.confirm(orderId)) {
            confirmed.push(orderId);
            writes.push(writer.submit({ kind: "status", orderId, status: "confirmed" }));
          } else {
            notConfirmed.push(orderId);
          }
        }
        await Promise.all(writes);
        return { confirmed, notConfirmed };
      },

      async levels({ sku }) {
        return ledger.levels(sku) ?? null;
      },

      async reservation({ orderId }) {
        const found = ledger.reservation(orderId);
        if (!found || found.status === "released") return null;
        return {
          orderId: found.orderId,
          sku: found.sku,
          userId: found.userId,
          quantity: found.quantity,
          status: found.status,
          reservedAt: new Date(found.reservedAtMs).toISOString(),
        };
      },
    };

    // Reservations no stored order confirmed in time (the intake died between reserving and the
    // durable append, or the append failed and the release was lost) go back on sale.
    const sweeper = setInterval(() => {
      const expired = ledger.expired(Date.now()).map((r) => r.orderId);
      if (expired.length === 0) return;
      releaseAll(expired).then(
        (released) => log.warn({ released: released.length }, "released expired reservations"),
        (error: unknown) => log.error({ err: error }, "releasing expired reservations failed"),
      );
    }, SWEEP_INTERVAL_MS);
    sweeper.unref();

    return {
      api,
      routes: () => {},
      stop: async () => {
        clearInterval(sweeper);
        await writer.drain();
      },
    };
  },
};
