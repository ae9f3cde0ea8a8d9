import type { FilterState, MembershipFilter } from "../../platform/cache/bloom/membership-filter.js";
import type { ReadThroughCache, Versioned } from "../../platform/cache/read-through-cache.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { parseSnowflake, smallestSnowflakeAt } from "../../platform/ids/snowflake.js";
import type { Product } from "./api.js";
import type { ProductStore } from "./product-store.js";

export const PRODUCT_TTL_MS = 60_000;
/** Misses are remembered briefly so repeated lookups of one unknown SKU do not each reach the database. */
const MISSING_TTL_MS = 2_000;
const TTLS = { ttlMs: PRODUCT_TTL_MS, missingTtlMs: MISSING_TTL_MS } as const;
/**
 * A SKU names one product forever (SKUs cannot change and products are never deleted), so the
 * SKU → id entry has one version: it exists. Absent is version 0, as for every key.
 */
const SKU_MAPPING_VERSION = 1;
/**
 * Ids minted within this long before a refresh began may commit after its query read the table:
 * the filter's stamp stays this far behind, and such ids are admitted without asking it.
 */
const INSERT_MARGIN_MS = 10_000;
/** Each refresh re-reads ids from this far before the stamp, so a refresh that failed is made up by the next. */
const REFRESH_LOOKBACK_MS = 60_000;
/** Products a warm-up reads and fills at a time; each batch is read just before it is filled. */
const WARM_BATCH = 100;

export interface ProductReaderOptions {
  readonly now?: () => number;
  /** The filter is rebuilt from the whole table at least this often. Default 15 minutes. */
  readonly fullRebuildIntervalMs?: number;
}

/**
 * Reads of products through the two-level cache. The cache holds the product's JSON text, so a
 * hit is answered without the database or re-serializing. Every cached entry carries the
 * product's `version`, and writers call `invalidate` with the version they committed, so no fill
 * of an older version — a slow read, a warm-up — can be cached after the write.
 *
 * Ids pass a Bloom filter of every existing product id first, so a flood of made-up ids never
 * reaches the cache's loader. The filter stores a stamp with its bits: "every id minted before
 * this time that exists is in here". It answers "no" only for ids minted before that stamp, and
 * the stamp travels with the bits, so when the filter goes back in time (Redis restored from a
 * snapshot) its stamp goes back too and newer ids are admitted. `refreshFilter`, run every second,
 * adds the ids committed since the stamp and moves it on; it rebuilds the filter from the table
 * when it was never built, lost its bitmap, went back in time, outgrew its size, or at the latest
 * every `fullRebuildIntervalMs`.
 */
export class ProductReader {
  private readonly now: () => number;
  private readonly fullRebuildIntervalMs: number;
  /** The newest filter state this process saw: a filter found older than it went back in time. */
  private seen: Pick<FilterState, "generation" | "stamp" | "builtAt"> | undefined;

  constructor(
    private readonly store: ProductStore,
    private readonly cache: ReadThroughCache,
    private readonly ids: MembershipFilter,
    private readonly expectedProducts: number,
    options: ProductReaderOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.fullRebuildIntervalMs = options.fullRebuildIntervalMs ?? 15 * 60_000;
  }

  /** Adds the ids committed since the filter's stamp, or rebuilds the filter (see the class comment). */
  async refreshFilter(): Promise<void> {
    const startedAt = this.now();
    const state = await this.ids.state();
    const stamp = startedAt - INSERT_MARGIN_MS;
    if (await this.needsRebuild(state, startedAt)) {
      const all = await this.store.allIds();
      await this.ids.rebuild(all, Math.max(this.expectedProducts, all.length * 2), {
        stamp,
        builtAt: startedAt,
      });
      this.seen = await this.ids.state();
      return;
    }
    const recent = await this.store.idsMintedSince(smallestSnowflakeAt(state.stamp - REFRESH_LOOKBACK_MS));
    await this.ids.add(recent, { stamp, generation: state.generation });
    this.seen = { generation: state.generation, stamp: Math.max(state.stamp, stamp), builtAt: state.builtAt };
  }

  private async needsRebuild(state: FilterState, now: number): Promise<boolean> {
    if (state.capacity === 0 || !state.intact) return true;
    if (
      now - state.builtAt >= this.fullRebuildIntervalMs ||
      now - state.stamp >= this.fullRebuildIntervalMs
    ) {
      return true;
    }
    const seen = this.seen;
    const wentBack =
      seen !== undefined &&
      (state.builtAt < seen.builtAt || (state.generation === seen.generation && state.stamp < seen.stamp));
    return wentBack || (await this.store.count()) > state.capacity;
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

  private async mightExist(id: string): Promise<boolean> {
    const minted = parseSnowflake(id)?.timestampMs ?? 0;
    // No stamp can cover an id this recent (stamps trail their refresh by the margin): skip the ask.
    if (minted > this.now() - INSERT_MARGIN_MS) return true;
    const { maybe, stamp } = await this.ids.lookup(id);
    return maybe || minted > stamp;
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
      const readAt = this.now();
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
