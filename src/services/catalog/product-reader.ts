import type { MembershipFilter } from "../../platform/cache/bloom/membership-filter.js";
import type { ReadThroughCache } from "../../platform/cache/read-through-cache.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { parseSnowflake, smallestSnowflakeAt } from "../../platform/ids/snowflake.js";
import type { Product } from "./api.js";
import type { ProductStore } from "./product-store.js";

const PRODUCT_TTL_MS = 60_000;
/** Misses are remembered briefly so repeated lookups of one unknown SKU do not each reach the database. */
const MISSING_TTL_MS = 2_000;
/**
 * Ids minted within this long before the filter's last refresh are admitted without asking it:
 * an insert takes far less, so every id older than that had committed when the refresh read.
 */
const INSERT_MARGIN_MS = 10_000;
/** Each refresh re-reads ids from this far back, so a refresh that failed is made up by the next. */
const REFRESH_LOOKBACK_MS = 60_000;

/**
 * Reads of products through the two-level cache. The cache holds the product's JSON text, so a
 * hit is answered without the database or re-serializing. Ids pass a Bloom filter of every
 * existing product id first, so a flood of made-up ids never reaches the cache's loader.
 * Writers call `invalidate` after their commit.
 *
 * The filter never answers "no" for a product that exists, whether it is shared (Redis) or per
 * process, and whoever created the product: ids newer than the last refresh (by the time in the
 * snowflake) are always admitted, and `refreshFilter`, run every second, adds the ids committed
 * since; a filter that is missing or over capacity is rebuilt from the database.
 */
export class ProductReader {
  /** Wall-clock time the last successful refresh started reading: ids committed before it are in the filter. */
  private coveredUntil = 0;

  constructor(
    private readonly store: ProductStore,
    private readonly cache: ReadThroughCache,
    private readonly ids: MembershipFilter,
    private readonly expectedProducts: number,
  ) {}

  /** Rebuilds the filter when it was never built or the catalog outgrew it, then adds recent ids. */
  async refreshFilter(): Promise<void> {
    const startedAt = Date.now();
    const { capacity } = await this.ids.fill();
    if (capacity === 0 || (await this.store.count()) > capacity) {
      const all = await this.store.allIds();
      await this.ids.rebuild(all, Math.max(this.expectedProducts, all.length * 2));
    } else {
      await this.ids.add(
        await this.store.idsMintedSince(smallestSnowflakeAt(this.coveredUntil - REFRESH_LOOKBACK_MS)),
      );
    }
    this.coveredUntil = startedAt;
  }

  /** Called before a new product is inserted: a filter may say "maybe", never "no", for it. */
  async admitNew(id: string): Promise<void> {
    try {
      await this.ids.add([id]);
    } catch (error) {
      // Creating the product without its id in the filter would hide it behind a false "absent".
      throw new AppError(
        "unavailable",
        `The product id filter cannot be updated now (${(error as Error).message}).`,
        1,
      );
    }
  }

  private mightExist(id: string): Promise<boolean> {
    const minted = parseSnowflake(id)?.timestampMs ?? 0;
    if (minted > this.coveredUntil - INSERT_MARGIN_MS) return Promise.resolve(true);
    return this.ids.mightContain(id);
  }

  /** The product as JSON text, or undefined when there is none. */
  jsonById(id: string): Promise<string | undefined> {
    return this.cache.get(productKey(id), async () => jsonOf(await this.store.byId(id)), {
      ttlMs: PRODUCT_TTL_MS,
      missingTtlMs: MISSING_TTL_MS,
      admit: () => this.mightExist(id),
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
