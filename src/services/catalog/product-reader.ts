import type { MembershipFilter } from "../../platform/cache/bloom/membership-filter.js";
import type { ReadThroughCache } from "../../platform/cache/read-through-cache.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { Product } from "./api.js";
import type { ProductStore } from "./product-store.js";

const PRODUCT_TTL_MS = 60_000;
/** Misses are remembered briefly so repeated lookups of one unknown SKU do not each reach the database. */
const MISSING_TTL_MS = 2_000;
const CATCH_UP_WINDOW_MS = 60_000;

/**
 * Reads of products through the two-level cache. The cache holds the product's JSON text, so a
 * hit is answered without the database or re-serializing. Ids pass a Bloom filter of every
 * existing product id first, so a flood of made-up ids never reaches the cache's loader.
 * Writers call `invalidate` after their commit.
 */
export class ProductReader {
  constructor(
    private readonly store: ProductStore,
    private readonly cache: ReadThroughCache,
    private readonly ids: MembershipFilter,
    private readonly expectedProducts: number,
  ) {}

  /** Builds the id filter when it was never built or is full; call at start. */
  async prepareFilter(): Promise<void> {
    const { count, capacity } = await this.ids.fill();
    if (capacity > 0 && count <= capacity) return;
    const startedAt = new Date(Date.now() - CATCH_UP_WINDOW_MS).toISOString();
    const all = await this.store.allIds();
    await this.ids.rebuild(all, Math.max(this.expectedProducts, all.length * 2));
    // Products committed while the snapshot was read (their ids were added to the old filter)
    // are added again, so the rebuild cannot lose them.
    await this.ids.add(await this.store.idsCreatedSince(startedAt));
  }

  /** Called before a new product is inserted: a filter may say "maybe", never "no", for it. */
  async admitNew(id: string): Promise<void> {
    try {
      await this.ids.add([id]);
      const { count, capacity } = await this.ids.fill();
      if (capacity === 0 || count > capacity) await this.prepareFilter();
    } catch (error) {
      // Creating the product without its id in the filter would hide it behind a false "absent".
      throw new AppError(
        "unavailable",
        `The product id filter cannot be updated now (${(error as Error).message}).`,
        1,
      );
    }
  }

  /** The product as JSON text, or undefined when there is none. */
  jsonById(id: string): Promise<string | undefined> {
    return this.cache.get(productKey(id), async () => jsonOf(await this.store.byId(id)), {
      ttlMs: PRODUCT_TTL_MS,
      missingTtlMs: MISSING_TTL_MS,
      admit: () => this.ids.mightContain(id),
    });
  }

  async byId(id: string): Promise<Product | undefined> {
    const text = await this.jsonById(id);
    return text === undefined ? undefined : (JSON.parse(text) as Product);
  }

  async bySku(sku: string): Promise<Product | undefined> {
    const id = await this.cache.get(skuKey(sku), async () => (await this.store.bySku(sku))?.id, {
      ttlMs: PRODUCT_TTL_MS,
      missingTtlMs: MISSING_TTL_MS,
    });
    return id === undefined ? undefined : this.byId(id);
  }

  /** Warms the cache with `products` (already read from the store). */
  async warm(products: readonly Product[]): Promise<void> {
    for (const product of products) {
      const text = JSON.stringify(product);
      await this.cache.get(productKey(product.id), async () => text, {
        ttlMs: PRODUCT_TTL_MS,
        missingTtlMs: MISSING_TTL_MS,
      });
      await this.cache.get(skuKey(product.sku), async () => product.id, {
        ttlMs: PRODUCT_TTL_MS,
        missingTtlMs: MISSING_TTL_MS,
      });
    }
  }

  invalidate(product: Pick<Product, "id" | "sku">): Promise<void> {
    return this.cache.invalidate([productKey(product.id), skuKey(product.sku)]);
  }
}

function jsonOf(product: Product | undefined): string | undefined {
  return product ? JSON.stringify(product) : undefined;
}

/** Product keys carry the id in a hash tag: a product's keys stay on one Redis Cluster slot. */
function productKey(id: string): string {
  return `catalog:product:{${id}}`;
}

function skuKey(sku: string): string {
  return `catalog:sku:{${sku}}`;
}
