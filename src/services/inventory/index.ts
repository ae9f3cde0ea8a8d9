import { fileURLToPath } from "node:url";
import { GroupCommit } from "../../platform/batching/group-commit.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { ServiceModule } from "../service-module.js";
import { INVENTORY_OPERATIONS, type InventoryApi, type StockTerms } from "./api.js";
import { type LedgerWrite, ReservationStore } from "./reservation-store.js";
import { StockLedger } from "./stock-ledger.js";
import { WriterLease } from "./writer-lease.js";

const SWEEP_INTERVAL_MS = 1000;
/** A crashed holder's lease expires in 15 s; a restart waits a little longer than that for it. */
const LEASE_WAIT_MS = 20_000;

function sameTerms(a: StockTerms, b: StockTerms): boolean {
  return (
    a.stock === b.stock &&
    a.perUserLimit === b.perUserLimit &&
    Date.parse(a.startsAt) === Date.parse(b.startsAt) &&
    Date.parse(a.endsAt) === Date.parse(b.endsAt)
  );
}

export const inventoryService: ServiceModule<InventoryApi> = {
  name: "inventory",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: INVENTORY_OPERATIONS,
  async start(context) {
    const { metrics, logger } = context;
    const log = logger.child({ service: "inventory" });
    const store = new ReservationStore(context.databases.primary);
    // Embedded, the data dir's lock already makes this the only process; on a shared database the
    // lease does.
    const lease = context.config.databaseUrls ? new WriterLease(context.databases.primary) : undefined;
    await lease?.acquire(LEASE_WAIT_MS);
    const ledger = new StockLedger();
    for (const terms of await store.allStock()) ledger.defineSale(terms);
    const live = await store.liveReservations();
    for (const reservation of live) ledger.restore(reservation);
    log.info({ sales: ledger.allLevels().length, liveReservations: live.length }, "stock ledger rebuilt");

    /** Inserts the database refused (it already holds a live reservation for that user and key). */
    const refusedInserts = new Set<string>();
    const writer = new GroupCommit<LedgerWrite>(async (writes) => {
      for (const orderId of await store.apply(writes)) refusedInserts.add(orderId);
    });
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

    /**
     * Durable first: the units go back on sale only once "released" is committed, so a crash can
     * never leave the database holding units that memory already sold again. A release whose write
     * fails stays reserved (under-selling, never overselling) and is tried again later.
     */
    const releaseAll = async (orderIds: readonly string[]): Promise<string[]> => {
      const releasing = orderIds.filter((orderId) => ledger.beginRelease(orderId));
      const results = await Promise.allSettled(
        releasing.map((orderId) => writer.submit({ kind: "status", orderId, status: "released" })),
      );
      const released: string[] = [];
      results.forEach((result, index) => {
        const orderId = releasing[index]!;
        if (result.status === "fulfilled") {
          ledger.finishRelease(orderId);
          released.push(orderId);
        } else {
          ledger.abortRelease(orderId);
          log.error({ err: result.reason, orderId }, "writing a release failed; the units stay held");
        }
      });
      return released;
    };

    const api: InventoryApi = {
      async defineStock(terms: StockTerms) {
        if (Date.parse(terms.endsAt) <= Date.parse(terms.startsAt)) throw new AppError("invalid_sale_window");
        if (!(await store.insertStock(terms))) {
          // The same terms again is a retry of a request that failed after this step: succeed.
          const existing = ledger.terms(terms.sku);
          if (existing && sameTerms(existing, terms)) return ledger.levels(terms.sku)!;
          throw new AppError("sale_exists", `Stock for SKU "${terms.sku}" is already on sale.`);
        }
        ledger.defineSale(terms);
        return ledger.levels(terms.sku)!;
      },

      async reserve(request) {
        if (lease && !lease.held)
          throw new AppError("unavailable", "This inventory process lost its writer lease.");
        const decision = ledger.reserve(request, Date.now(), ttlMs);
        if (decision.kind === "refused") {
          outcomes.inc({ outcome: decision.reason });
          return { outcome: "refused", reason: decision.reason, available: decision.available };
        }
        const { reservation } = decision;
        if (decision.kind === "duplicate") {
          outcomes.inc({ outcome: "duplicate" });
          await durability.get(reservation.orderId);
          // The first attempt failed and is being undone: this retry may go ahead once it is.
          if (reservation.status === "releasing" || reservation.status === "released") {
            throw new AppError("not_accepted", undefined, 1);
          }
          return {
            outcome: "duplicate",
            orderId: reservation.orderId,
            sku: reservation.sku,
            quantity: reservation.quantity,
            stored: reservation.status === "confirmed",
            reservedAt: new Date(reservation.reservedAtMs).toISOString(),
          };
        }
        const written = writer.submit({ kind: "insert", reservation });
        durability.set(reservation.orderId, written);
        try {
          await written;
          if (refusedInserts.delete(reservation.orderId))
            throw new Error("a live reservation already holds this key");
        } catch (error) {
          ledger.forget(reservation.orderId);
          log.error({ err: error, orderId: reservation.orderId }, "reservation write failed");
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

    // A reservation no stored order confirmed within its TTL goes back on sale, but only while the
    // orders backlog is empty: an order still waiting in the queue will confirm its reservation,
    // however long the burst takes to drain. With nothing queued, an unconfirmed reservation's
    // order was never durably accepted (the intake died between reserving and appending).
    let lastBacklogWarning = 0;
    const sweep = async () => {
      if (ledger.expired(Date.now()).length === 0) return;
      let pending: number;
      try {
        pending = (await context.clients.orders.backlog()).pending;
      } catch (error) {
        if (Date.now() - lastBacklogWarning > 60_000) {
          lastBacklogWarning = Date.now();
          log.warn({ err: error }, "cannot read the orders backlog; expired reservations wait");
        }
        return;
      }
      if (pending > 0) return;
      const expired = ledger.expired(Date.now()).map((r) => r.orderId);
      const released = await releaseAll(expired);
      if (released.length > 0) log.warn({ released: released.length }, "released expired reservations");
    };
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sweep()
        .catch((error: unknown) => log.error({ err: error }, "releasing expired reservations failed"))
        .finally(() => {
          sweeping = false;
        });
    }, SWEEP_INTERVAL_MS);
    sweeper.unref();

    return {
      api,
      routes: () => {},
      stop: async () => {
        clearInterval(sweeper);
        await writer.drain();
        await lease?.release();
      },
    };
  },
};
