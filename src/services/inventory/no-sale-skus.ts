import { LRUCache } from "lru-cache";

/** How many unknown SKUs are remembered at most; past it the least recently asked for is forgotten. */
export const NO_SALE_MAX_SKUS = 10_000;
/** How long a "no sale" answer is trusted: a sale defined by another process is seen this late at most. */
export const NO_SALE_TTL_MS = 1000;

/**
 * SKUs the record has no sale for, remembered briefly so that a flood of orders for one unknown
 * SKU costs one database lookup, not one each. Buyers choose the SKU, so this is bounded by count
 * (LRU) as well as age: 100,000 distinct made-up SKUs keep at most NO_SALE_MAX_SKUS entries.
 */
export class NoSaleSkus {
  private readonly skus: LRUCache<string, true>;

  constructor(maxSkus = NO_SALE_MAX_SKUS, ttlMs = NO_SALE_TTL_MS) {
    this.skus = new LRUCache<string, true>({ max: maxSkus, ttl: ttlMs });
  }

  get size(): number {
    return this.skus.size;
  }

  has(sku: string): boolean {
    return this.skus.has(sku);
  }

  remember(sku: string): void {
    this.skus.set(sku, true);
  }

  /** A sale for `sku` was just defined or changed here. */
  forget(sku: string): void {
    this.skus.delete(sku);
  }
}
