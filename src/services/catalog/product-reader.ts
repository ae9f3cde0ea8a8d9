import type { MembershipFilter } from "../../platform/cache/bloom/membership-filter.js";
import type { ReadThroughCache, Versioned } from "../../platform/cache/read-through-cache.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { parseSnowflake, smallestSnowflakeAt } from "../../platform/ids/snowflake.js";
import type { Product } from "./api.js";
import type { ProductStore } from "./product-store.js";

const PRODUCT_TTL_MS = 60_000;
/** Misses are remembered briefly so repeated lookups of one unknown SKU do not each reach the database. */
const MISSING_TTL_MS = 2_000;
const TTLS = { ttlMs: PRODUCT_TTL_MS, missingTtlMs: MISSING_TTL_MS } as const;
/**
 * A SKU names one product forever (SKUs cannot change and products are never deleted), so the
 * SKU → id entry has one version: it exists. Absent is version 0, as for every key.
 */
const SKU_MAPPING_VERSION = 1;
/**
 * Ids minted within this long before the filter's last refresh are admitted without asking it:
 * an insert takes far less, so every id older than that had committed when the refresh read.
 */
const INSERT_MARGIN_MS = 10_000;
/** Each refresh re-reads ids from this far back, so a refresh that failed is made up by the next. */
const REFRESH_LOOKBACK_MS = 60_000;
/** Products a warm-up reads and fills at a time; each batch is read just before it is filled. */
const WARM_BATCH = 100;

/**
 * Reads of products through the two-level cache. The cache holds the product's JSON text, so a
 * hit is answered without the database or re-serializing. Every cached entry carries the
 * product's `version`, and writers call `invalidate` with the version they committed, so no fill
 * of an older version — a slow read, a warm-up — can be cached after the write.
 *
 * Ids pass a Bloom filter of every existing product id first, so a flood of made-up ids never
 * reaches the cache's loader.
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
    return this.cache.get(productKey(id), async () => productEntry(await this.store.byId(id)), {
      ...TTLS,
      admit: () => this.mightExist(id),
    });
  }

  async byId(id: string): Promise<Product | undefined> {
    const text = await this.jsonById(id);
    return text === undefined ? undefined : (JSON.parse(text) as Product);
  }

  async bySku(sku: string): Promise<Product | undefined> {
    const id = await this.cache.get(skuKey(sku), async () => skuEntry(await this.store.bySku(sku)), TTLS);
    return id === undefined ? undefined : this.byId(id);
  }

  /**
   * Fills the cache with `products`, read from the store at `readAt`. A product written since
   * loses: its entry carries the newer version, which no older fill overwrites.
   */
  async warm(products: readonly Product[], readAt: number): Promise<void> {
    for (const product of products) {
      await this.cache.prime(productKey(product.id), productEntry(product), readAt, TTLS);
      await this.cache.prime(skuKey(product.sku), skuEntry(product), readAt, TTLS);
    }
  }

  /**
   * Warms the cache with the `top` most recently updated products, a batch at a time, each batch
   * read right before it is filled (a fill read too long ago is not stored). Reports progress.
   */
  async warmTop(top: number, onProgress?: (warmed: number, total: number) => void): Promise<number> {
    const ids = await this.store.recentlyUpdatedIds(top);
    for (let done = 0; done < ids.length; done += WARM_BATCH) {
      const readAt = Date.now();
      await this.warm(await this.store.byIds(ids.slice(done, done + WARM_BATCH)), readAt);
      onProgress?.(Math.min(done + WARM_BATCH, ids.length), ids.length);
    }
    return ids.length;
  }

  /** Call after the product's write committed, with the row it wrote. */
  invalidate(product: Pick<Product, "id" | "sku" | "version">): Promise<void> {
    return this.cache.invalidate([
      { key: productKey(product.id), version: product.version },
      { key: skuKey(product.sku), version: SKU_MAPPING_VERSION },
    ]);
  }
}

function productEntry(product: Product | undefined): Versioned | undefined {
  return product && { value: JSON.stringify(product), version: product.version };
}

function skuEntry(product: Product | undefined): Versioned | undefined {
  return product && { value: product.id, version: SKU_MAPPING_VERSION };
}

/** Product keys carry the id in a hash tag: a product's keys stay on one Redis Cluster slot. */
function productKey(id: string): string {
  return `catalog:product:{${id}}`;
}

function skuKey(sku: string): string {
  return `catalog:sku:{${sku}}`;
}
