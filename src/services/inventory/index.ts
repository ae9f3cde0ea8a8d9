import { fileURLToPath } from "node:url";
import { GroupCommit } from "../../platform/batching/group-commit.js";
import { LowPriorityWork } from "../../platform/batching/low-priority-work.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { Reservation, ReservationRef } from "../../platform/reservations/reservation-book.js";
import type { ServiceModule } from "../service-module.js";
import {
  INVENTORY_OPERATIONS,
  type InventoryApi,
  type ReleaseReason,
  type ReserveRequest,
  type StockTerms,
} from "./api.js";
import { StockReconciliation } from "./reconciliation.js";
import { type LedgerWrite, ReservationStore } from "./reservation-store.js";
import { StockNews } from "./stock-news.js";
import { WriterLease } from "./writer-lease.js";

const SWEEP_INTERVAL_MS = 1000;
const SWEEP_BATCH = 1000;
/** A release not settled in the book by then was abandoned (its process died); the sweeper settles it. */
const RELEASE_DEADLINE_MS = 30_000;
/** A crashed holder's lease expires in 15 s; a restart waits a little longer than that for it. */
const LEASE_WAIT_MS = 20_000;
/** A SKU the database has no sale for is not looked up again within this time. */
const NO_SALE_MEMORY_MS = 1000;

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
    const { metrics, logger, reservations: book, broadcast } = context;
    const log = logger.child({ service: "inventory" });
    const store = new ReservationStore(context.databases.primary);
    // A book in this process's memory must be the only one writing to the database: embedded, the
    // data dir's lock sees to that; on a shared database, the lease. A Redis book is shared by design.
    const lease =
      !book.shared && context.config.databaseUrls ? new WriterLease(context.databases.primary) : undefined;
    await lease?.acquire(LEASE_WAIT_MS);

    /** Loads sales and live reservations the book does not hold yet; returns the SKUs loaded. */
    const restoreFromRecord = async (sku?: string): Promise<{ found: number; loaded: string[] }> => {
      const sales = await store.recentStock(sku);
      if (sales.length === 0) return { found: 0, loaded: [] };
      const live = await store.liveReservations(sales.map((s) => s.sku));
      const loaded: string[] = [];
      for (const terms of sales) {
        const rows = live.filter((r) => r.sku === terms.sku);
        if (await book.restore(terms, rows)) loaded.push(terms.sku);
      }
      return { found: sales.length, loaded };
    };
    const atStart = await restoreFromRecord();
    log.info(
      { sales: atStart.found, loadedIntoBook: atStart.loaded.length, shared: book.shared },
      "live stock ready",
    );

    /** Inserts the database refused (it already holds a live reservation for that user and key). */
    const refusedInserts = new Set<string>();
    const writer = new GroupCommit<LedgerWrite>(async (writes) => {
      for (const orderId of await store.apply(writes)) refusedInserts.add(orderId);
    });
    /** Reservations whose row is not yet committed: a duplicate request waits for the original. */
    const durability = new Map<string, Promise<void>>();
    const ttlMs = context.config.reservationTtlSeconds * 1000;
    const noSaleUntil = new Map<string, number>();

    const outcomes = metrics.counter("inventory_reservations_total", "Reservation attempts by outcome.", [
      "outcome",
    ]);
    const drifting = metrics.gauge(
      "inventory_stock_drift_units",
      "Live stock minus the database of record, per SKU and state, where they disagree (0 = none).",
      ["sku", "state"],
    );
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

    const news = new StockNews(broadcast, book, log);

    /**
     * Durable first: the units go back on sale only once "released" is committed, so a crash can
     * never leave the database holding units the book already sold again. A release whose write
     * fails stays reserved (under-selling, never overselling) and is tried again later.
     */
    const releaseAll = async (refs: readonly ReservationRef[], reason: ReleaseReason): Promise<string[]> => {
      const deadline = Date.now() + RELEASE_DEADLINE_MS;
      const begun = await Promise.allSettled(refs.map((ref) => book.beginRelease(ref, deadline)));
      const releasing = refs.filter((_, index) => {
        const result = begun[index]!;
        return result.status === "fulfilled" && result.value !== undefined;
      });
      const results = await Promise.allSettled(
        releasing.map((ref) => writer.submit({ kind: "release", orderId: ref.orderId, reason })),
      );
      const released: string[] = [];
      await Promise.all(
        results.map(async (result, index) => {
          const ref = releasing[index]!;
          // If the book cannot be told now, the release stays `releasing` past its deadline and the
          // sweeper settles it from the database row.
          if (result.status === "fulfilled") {
            news.changed(await book.finishRelease(ref).catch(() => undefined));
            released.push(ref.orderId);
          } else {
            await book.abortRelease(ref).catch(() => undefined);
            log.error(
              { err: result.reason, orderId: ref.orderId },
              "writing a release failed; the units stay held",
            );
          }
        }),
      );
      return released;
    };

    /** The book's answer; a book that cannot answer (Redis down) means "not accepted, retry". */
    const decide = async (request: ReserveRequest) => {
      try {
        const decision = await book.reserve(request, Date.now(), ttlMs);
        if (decision.kind !== "refused" || decision.reason !== "no_sale") return decision;
        // The book may have lost the sale (a Redis restarted without its data): the database decides.
        if ((noSaleUntil.get(request.sku) ?? 0) > Date.now()) return decision;
        const { found, loaded } = await restoreFromRecord(request.sku);
        if (found === 0) {
          noSaleUntil.set(request.sku, Date.now() + NO_SALE_MEMORY_MS);
          return decision;
        }
        if (loaded.length > 0)
          log.warn({ sku: request.sku }, "live stock was missing; rebuilt from the database");
        return await book.reserve(request, Date.now(), ttlMs);
      } catch (error) {
        outcomes.inc({ outcome: "book_unavailable" });
        log.error({ err: error, sku: request.sku }, "the reservation book did not answer");
        throw new AppError("not_accepted", undefined, 1);
      }
    };

    const api: InventoryApi = {
      async defineStock(terms: StockTerms) {
        if (Date.parse(terms.endsAt) <= Date.parse(terms.startsAt)) throw new AppError("invalid_sale_window");
        if (!(await store.insertStock(terms))) {
          // The same terms again is a retry of a request that failed after this step: succeed.
          const [existing] = await store.recentStock(terms.sku);
          if (existing && sameTerms(existing, terms)) {
            await book.restore(existing, await store.liveReservations([terms.sku]));
            return (await book.levels(terms.sku))!;
          }
          throw new AppError("sale_exists", `Stock for SKU "${terms.sku}" is already on sale.`);
        }
        noSaleUntil.delete(terms.sku);
        await book.defineSale(terms);
        return (await book.levels(terms.sku))!;
      },

      async reserve(request) {
        if (lease && !lease.held)
          throw new AppError("unavailable", "This inventory process lost its writer lease.", 1);
        const decision = await decide(request);
        if (decision.kind === "refused") {
          outcomes.inc({ outcome: decision.reason });
          if (decision.reason === "sold_out" && decision.available === 0 && decision.version !== undefined) {
            news.refusedSoldOut(request.sku, decision.version);
          }
          return {
            outcome: "refused",
            reason: decision.reason,
            available: decision.available,
            ...(decision.version !== undefined ? { version: decision.version } : {}),
          };
        }
        const { reservation } = decision;
        if (decision.kind === "duplicate") {
          outcomes.inc({ outcome: "duplicate" });
          const local = durability.get(reservation.orderId);
          if (local) {
            // The first attempt is still being written here; if that fails, so does this one.
            await local.catch(() => {
              throw new AppError("not_accepted", undefined, 1);
            });
          } else if (
            book.shared &&
            reservation.status === "reserved" &&
            !(await store.reservation(reservation.orderId))
          ) {
            // The first attempt is being written by another inventory process (or its write
            // failed and is being undone): answer only once its row is committed.
            throw new AppError("not_accepted", undefined, 1);
          }
          // The first attempt failed and is being undone: this retry may go ahead once it is.
          if (reservation.status === "releasing") throw new AppError("not_accepted", undefined, 1);
          return {
            outcome: "duplicate",
            orderId: reservation.orderId,
            sku: reservation.sku,
            quantity: reservation.quantity,
            stored: reservation.status === "confirmed",
            reservedAt: new Date(reservation.reservedAtMs).toISOString(),
          };
        }
        if (decision.after.available === 0) news.soldOut(request.sku, decision.after.version);
        const ref = { orderId: reservation.orderId, sku: reservation.sku };
        const written = writer.submit({ kind: "insert", reservation });
        durability.set(reservation.orderId, written);
        try {
          await written;
        } catch (error) {
          // The write may have committed though it reported failure: release it durably (never
          // just forget it, which would leave a live row behind). If that fails too, the
          // reservation stays and expires.
          await releaseAll([ref], "not_accepted");
          log.error({ err: error, orderId: reservation.orderId }, "reservation write failed");
          outcomes.inc({ outcome: "write_failed" });
          throw new AppError("not_accepted", undefined, 1);
        } finally {
          durability.delete(reservation.orderId);
        }
        if (refusedInserts.delete(reservation.orderId)) {
          // The database holds a live reservation with this user and key for another SKU.
          news.changed(await book.forget(ref).catch(() => undefined));
          outcomes.inc({ outcome: "idempotency_key_reused" });
          throw AppError.refusal("idempotency_key_reused");
        }
        outcomes.inc({ outcome: "reserved" });
        return {
          outcome: "reserved",
          orderId: reservation.orderId,
          available: decision.after.available,
          version: decision.after.version,
        };
      },

      async release({ reservations, reason }) {
        return { released: await releaseAll(reservations, reason) };
      },

      async confirm({ reservations }) {
        const first = await book.confirm(reservations);
        const confirmed = [...first.confirmed];
        const beingReleased = first.beingReleased.map((r) => r.orderId);
        const notConfirmed: string[] = [];
        const neverAccepted: string[] = [];
        if (first.notConfirmed.length > 0) {
          // The book does not know these. The database decides: released (or never written)
          // means so; a live row means the book lost it (a Redis that lost data) and takes it back.
          const rows = await store.rows(first.notConfirmed.map((r) => r.orderId));
          const lost: Reservation[] = [];
          for (const ref of first.notConfirmed) {
            const row = rows.get(ref.orderId);
            if (!row || (row.status === "released" && row.releaseReason === "not_accepted")) {
              neverAccepted.push(ref.orderId);
            } else if (row.status === "released") {
              notConfirmed.push(ref.orderId);
            } else {
              lost.push(row.reservation);
            }
          }
          for (const sku of new Set(lost.map((r) => r.sku))) {
            if (!(await book.levels(sku))) await restoreFromRecord(sku);
          }
          const adopted = await Promise.all(lost.map((r) => book.adopt(r)));
          const again = await book.confirm(
            lost.filter((_, i) => adopted[i] === "adopted" || adopted[i] === "present"),
          );
          confirmed.push(...again.confirmed);
          beingReleased.push(...again.beingReleased.map((r) => r.orderId));
          const unhonoured = [
            ...again.notConfirmed,
            ...lost.filter((_, i) => adopted[i] !== "adopted" && adopted[i] !== "present"),
          ];
          if (unhonoured.length > 0) {
            // No stock is left for them (it was sold while the book did not know of them): the
            // orders are cancelled and their rows released, rather than oversell.
            log.error(
              { orders: unhonoured.map((r) => r.orderId) },
              "live reservations the book lost and cannot take back",
            );
            await Promise.all(
              unhonoured.map((r) =>
                writer.submit({ kind: "release", orderId: r.orderId, reason: "cancelled" }),
              ),
            );
            notConfirmed.push(...unhonoured.map((r) => r.orderId));
          }
        }
        await Promise.all(confirmed.map((reservation) => writer.submit({ kind: "confirm", reservation })));
        return { confirmed: confirmed.map((r) => r.orderId), notConfirmed, neverAccepted, beingReleased };
      },

      async levels({ sku }) {
        return (await book.levels(sku)) ?? null;
      },

      async reservation({ orderId }) {
        // The row is written before the order is accepted, so every accepted order finds it.
        const found = await store.reservation(orderId);
        if (!found) return null;
        return {
          orderId: found.orderId,
          sku: found.sku,
          userId: found.userId,
          quantity: found.quantity,
          status: found.status === "confirmed" ? "confirmed" : "reserved",
          reservedAt: new Date(found.reservedAtMs).toISOString(),
        };
      },

      async reconcile() {
        return reconciliation.check();
      },
    };

    // A reservation no stored order confirmed within its TTL goes back on sale, but only while the
    // orders backlog is empty: an order still waiting in the queue will confirm its reservation,
    // however long the burst takes to drain. With nothing queued, an unconfirmed reservation's
    // order was never durably accepted (the intake died between reserving and appending).
    let lastBacklogWarning = 0;
    const sweep = async () => {
      if ((await book.expired(Date.now(), 1)).length === 0) return;
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
      const released = await releaseAll(await book.expired(Date.now(), SWEEP_BATCH), "expired");
      if (released.length > 0) log.warn({ released: released.length }, "released expired reservations");
    };
    /** Releases whose process died between writing the release and telling the book. */
    const settleAbandonedReleases = async () => {
      const stale = await book.staleReleases(Date.now(), SWEEP_BATCH);
      if (stale.length === 0) return;
      const rows = await store.rows(stale.map((r) => r.orderId));
      for (const ref of stale) {
        const row = rows.get(ref.orderId);
        if (!row || row.status === "released") news.changed(await book.finishRelease(ref));
        else await book.abortRelease(ref);
      }
      log.warn({ settled: stale.length }, "settled releases abandoned by their process");
    };
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      settleAbandonedReleases()
        .then(sweep)
        .catch((error: unknown) => log.error({ err: error }, "releasing expired reservations failed"))
        .finally(() => {
          sweeping = false;
        });
    }, SWEEP_INTERVAL_MS);
    sweeper.unref();

    const reconciliation = new StockReconciliation(book, store);
    const reported = new Set<string>();
    const lowPriority = new LowPriorityWork({
      lag: async () => (await context.clients.orders.backlog()).pending,
      maxLag: context.config.lowPriorityMaxLag,
      intervalMs: context.config.reconcileIntervalSeconds * 1000,
      logger: log,
      metrics,
    });
    lowPriority.add("stock-reconciliation", async () => {
      const report = await reconciliation.check();
      drifting.reset();
      for (const drift of report.drift) {
        const live = drift.live ?? { stock: 0, reserved: 0, sold: 0 };
        const recorded = drift.recorded ?? { stock: 0, reserved: 0, sold: 0 };
        for (const state of ["stock", "reserved", "sold"] as const) {
          drifting.set({ sku: drift.sku, state }, live[state] - recorded[state]);
        }
        if (!reported.has(drift.sku)) log.error({ drift }, "live stock differs from the database of record");
      }
      const now = new Set(report.drift.map((d) => d.sku));
      for (const sku of reported) if (!now.has(sku)) log.info({ sku }, "stock drift resolved");
      reported.clear();
      for (const sku of now) reported.add(sku);
    });
    lowPriority.start();

    return {
      api,
      routes: () => {},
      stop: async () => {
        clearInterval(sweeper);
        while (sweeping) await new Promise((resolve) => setTimeout(resolve, 20));
        await lowPriority.stop();
        await writer.drain();
        await lease?.release();
      },
    };
  },
};
