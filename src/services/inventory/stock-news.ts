import type { Broadcast } from "../../platform/broadcast/broadcast.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { ReservationBook, StockChange } from "../../platform/reservations/reservation-book.js";
import { STOCK_AVAILABILITY_CHANNEL, type StockAvailability } from "./api.js";

/** While a SKU stays sold out, refusals re-announce it at most this often (for intakes that missed it). */
const SOLD_OUT_REPEAT_MS = 1000;
/** A holders filter larger than this (bits; 1 MB) goes without the news: intakes then ask the inventory. */
const MAX_HOLDERS_BITS_IN_NEWS = 8 * 1024 * 1024;

/**
 * The inventory's side of the sold-out fast path: it tells every intake process, over the
 * broadcast port, when a SKU sells out and when units come back. Best effort by design (see
 * SoldOutFlags in the orders service for how intakes cope with lost news).
 */
export class StockNews {
  private readonly soldOutAnnouncedAt = new Map<string, number>();

  constructor(
    private readonly broadcast: Broadcast,
    private readonly book: ReservationBook,
    private readonly log: Logger,
  ) {}

  /** What is available changed (a release, a dropped reservation). */
  changed(change: StockChange | undefined): void {
    if (change) this.publish(change);
  }

  /** The last unit was just reserved. */
  soldOut(sku: string, version: number): void {
    this.soldOutAnnouncedAt.set(sku, Date.now());
    // With who holds its units, so a replay of a holder's key still reaches the book. The book
    // keeps that filter as it reserves: announcing costs the same at the first sell-out and the
    // thousandth, whatever the sale's history.
    this.book
      .holders(sku)
      .then((filter) => {
        const holders = filter && filter.bits <= MAX_HOLDERS_BITS_IN_NEWS ? filter : undefined;
        this.publish({ sku, available: 0, version, ...(holders ? { holders } : {}) });
      })
      .catch((error: unknown) => this.log.warn({ err: error, sku }, "announcing a sell-out failed"));
  }

  /** A request was refused for want of stock: said again now and then, for intakes that missed it. */
  refusedSoldOut(sku: string, version: number): void {
    if (Date.now() - (this.soldOutAnnouncedAt.get(sku) ?? 0) >= SOLD_OUT_REPEAT_MS)
      this.soldOut(sku, version);
  }

  private publish(news: StockAvailability): void {
    this.broadcast
      .publish(STOCK_AVAILABILITY_CHANNEL, JSON.stringify(news))
      .catch((error: unknown) => this.log.warn({ err: error }, "announcing stock availability failed"));
  }
}
