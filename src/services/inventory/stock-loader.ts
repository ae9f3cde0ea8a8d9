import type { Logger } from "../../platform/observability/logger.js";
import { firstVersionOf, type ReservationBook } from "../../platform/reservations/reservation-book.js";
import type { ReservationStore } from "./reservation-store.js";
import type { StockNews } from "./stock-news.js";

/**
 * Loads SKUs from the database of record into the reservation book, each load under a new epoch
 * the database mints first (see ReservationStore.recordForLoad). This is how a book that lost a
 * SKU, or came back behind the record, is put right: wholesale, never patched, and never while a
 * reservation made on the bad state can still be written (the new epoch refuses them).
 */
export class StockLoader {
  /** Loads running in this process, per SKU: concurrent detections of one problem load once. */
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(
    private readonly book: ReservationBook,
    private readonly store: ReservationStore,
    private readonly news: StockNews,
    private readonly log: Logger,
  ) {}

  /**
   * At start: every recent sale the book does not hold at the record's epoch is loaded. A shared
   * book (Redis) that holds the record's epoch is kept: other processes are selling from it.
   */
  async loadAll(): Promise<{ found: number; loaded: number }> {
    const sales = await this.store.recentStock();
    let loaded = 0;
    for (const sale of sales) {
      const held = await this.book.levels(sale.sku);
      if (held && held.epoch === sale.epoch && this.book.shared) continue;
      if (await this.reload(sale.sku, Math.max(held?.epoch ?? 0, sale.epoch))) loaded++;
    }
    return { found: sales.length, loaded };
  }

  /**
   * The book's state of `sku` at `badEpoch` must not be used (it is behind the record, or another
   * load replaced it); undefined: the book has no such sale. Loads the record under an epoch newer
   * than it. Resolves to false when there is no such sale in the record.
   */
  async reload(sku: string, badEpoch?: number): Promise<boolean> {
    const running = this.running.get(sku);
    if (running) {
      // Another caller's load may read the record before what this caller knows changed in it
      // (a new epoch minted by a sale change): this one loads again unless that one was new enough.
      const found = await running.catch(() => false);
      if (!found) return found;
      const held = await this.book.levels(sku);
      if (held && (badEpoch === undefined || held.epoch > badEpoch)) return true;
      return this.reload(sku, badEpoch);
    }
    const load = this.load(sku, badEpoch).finally(() => this.running.delete(sku));
    this.running.set(sku, load);
    return load;
  }

  private async load(sku: string, badEpoch: number | undefined): Promise<boolean> {
    const record = await this.store.recordForLoad(sku, badEpoch);
    if (!record) return false;
    if (await this.book.load(record)) {
      this.log.warn(
        { sku, epoch: record.epoch, reservations: record.reservations.length },
        "loaded live stock from the database",
      );
      const levels = await this.book.levels(sku);
      if (levels)
        this.news.changed({ sku, available: levels.available, version: firstVersionOf(record.epoch) });
    }
    return true;
  }
}
