import { AppError } from "../../platform/errors/catalogue.js";
import type {
  StockLevels as BookLevels,
  ReservationBook,
} from "../../platform/reservations/reservation-book.js";
import type { InventoryApi, StockLevels, StockTerms } from "./api.js";
import { NoSaleSkus } from "./no-sale-skus.js";
import type { StockReconciliation } from "./reconciliation.js";
import type { ReservationStore } from "./reservation-store.js";
import type { StockLoader } from "./stock-loader.js";
import type { StockReservations } from "./stock-reservations.js";
import type { WriterLease } from "./writer-lease.js";

export interface InventoryParts {
  readonly book: ReservationBook;
  readonly store: ReservationStore;
  readonly loader: StockLoader;
  readonly reservations: StockReservations;
  readonly reconciliation: StockReconciliation;
  /** Held while this process's in-memory book is the database's only writer. */
  readonly lease?: WriterLease | undefined;
  /** Unknown SKUs remembered briefly; given by tests that watch its size. */
  readonly noSale?: NoSaleSkus;
}

/** The inventory's operations, as other services call them (in-process or over HTTP). */
export function createInventoryApi(parts: InventoryParts): InventoryApi {
  const { book, store, loader, reservations, reconciliation, lease } = parts;
  const noSale = parts.noSale ?? new NoSaleSkus();
  return {
    async defineStock(terms: StockTerms) {
      if (Date.parse(terms.endsAt) <= Date.parse(terms.startsAt)) throw new AppError("invalid_sale_window");
      if (!(await store.insertStock(terms))) {
        // The same terms again is a retry of a request that failed after this step: succeed.
        const [existing] = await store.recentStock(terms.sku);
        if (existing && sameTerms(existing, terms)) {
          if (!(await book.levels(terms.sku))) await loader.reload(terms.sku);
          return publicLevels((await book.levels(terms.sku))!);
        }
        throw new AppError("sale_exists", `Stock for SKU "${terms.sku}" is already on sale.`);
      }
      noSale.forget(terms.sku);
      await book.defineSale(terms);
      return publicLevels((await book.levels(terms.sku))!);
    },

    async changeSale({ sku, stock, endsAt }) {
      const change = await store.changeTerms(sku, { stock, endsAt });
      switch (change.kind) {
        case "not_found":
          throw new AppError("sale_not_found", `No sale exists for SKU "${sku}".`);
        case "invalid_window":
          throw new AppError("invalid_sale_window");
        case "below_held":
          throw new AppError(
            "stock_below_held",
            `${change.held} units of "${sku}" are sold or reserved; the stock cannot go below that.`,
          );
      }
      noSale.forget(sku);
      await loader.reload(sku, change.epochBefore);
      const levels = await book.levels(sku);
      if (!levels) throw new AppError("unavailable", "The sale changed but could not be read back.", 1);
      return { before: change.before, after: change.after, levels: publicLevels(levels) };
    },

    async reserve(request) {
      if (lease && !lease.held)
        throw new AppError("unavailable", "This inventory process lost its writer lease.", 1);
      if (noSale.has(request.sku)) return { outcome: "refused", reason: "no_sale", available: 0 };
      const result = await reservations.reserve(request);
      if (result.outcome === "refused" && result.reason === "no_sale") noSale.remember(request.sku);
      return result;
    },

    async settle({ orderId, sku, decision }) {
      return { outcome: await reservations.settle({ orderId, sku }, decision) };
    },

    async release({ reservations: refs, reason }) {
      return { released: await reservations.release(refs, reason) };
    },

    async confirm({ reservations: refs }) {
      return reservations.confirm(refs);
    },

    async levels({ sku }) {
      const levels = await book.levels(sku);
      return levels ? publicLevels(levels) : null;
    },

    async reservation({ orderId }) {
      // The row is written before the order is accepted, so every accepted order finds it.
      const found = await store.reservation(orderId);
      if (!found || found.status === "released") return null;
      const r = found.reservation;
      return {
        orderId: r.orderId,
        sku: r.sku,
        userId: r.userId,
        quantity: r.quantity,
        status: found.status,
        reservedAt: new Date(r.reservedAtMs).toISOString(),
      };
    },

    async reconcile() {
      return reconciliation.check();
    },
  };
}

function publicLevels({ epoch: _, ...levels }: BookLevels): StockLevels {
  return levels;
}

function sameTerms(a: StockTerms, b: StockTerms): boolean {
  return (
    a.stock === b.stock &&
    a.perUserLimit === b.perUserLimit &&
    Date.parse(a.startsAt) === Date.parse(b.startsAt) &&
    Date.parse(a.endsAt) === Date.parse(b.endsAt)
  );
}
