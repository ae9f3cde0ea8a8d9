import { type Cache, jitteredTtl } from "../../platform/cache/cache.js";
import { SingleFlight } from "../../platform/cache/singleflight.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { Product } from "./api.js";
import type { ProductStore } from "./product-store.js";

const PRODUCT_TTL_MS = 60_000;
/** Misses are remembered briefly so a flood of unknown ids does not each reach the database. */
const MISSING_TTL_MS = 2_000;
const MISSING = "null";

/**
 * Cache-aside reads of products. The cache holds the product's JSON text, so a hit is answered
 * without touching the database or re-serializing. Writers call `invalidate` after their commit.
 */
export class ProductReader {
  private readonly flights = new SingleFlight<string>();
  private readonly lookups;

  constructor(
    private readonly store: ProductStore,
    private readonly cache: Cache,
    metrics: Metrics,
  ) {
    this.lookups = metrics.counter("catalog_product_lookups_total", "Product reads by cache outcome.", [
      "outcome",
    ]);
  }

  /** The product as JSON text, or undefined when there is none. */
  async jsonById(id: string): Promise<string | undefined> {
    const key = productKey(id);
    const cached = await this.cache.get(key);
    if (cached !== undefined) {
      this.lookups.inc({ outcome: "hit" });
      return cached === MISSING ? undefined : cached;
    }
    this.lookups.inc({ outcome: "miss" });
    const loaded = await this.flights.run(key, async () => {
      const product = await this.store.byId(id);
      const text = product ? JSON.stringify(product) : MISSING;
      await this.cache.set(key, text, product ? jitteredTtl(PRODUCT_TTL_MS) : MISSING_TTL_MS);
      return text;
    });
    return loaded === MISSING ? undefined : loaded;
  }

  async byId(id: string): Promise<Product | undefined> {
    const text = await this.jsonById(id);
    return text === undefined ? undefined : (JSON.parse(text) as Product);
  }

  async bySku(sku: string): Promise<Product | undefined> {
    const key = skuKey(sku);
    const cachedId = await this.cache.get(key);
    if (cachedId === MISSING) return undefined;
    if (cachedId !== undefined) return this.byId(cachedId);
    const id = await this.flights.run(key, async () => {
      const product = await this.store.bySku(sku);
      await this.cache.set(
        key,
        product?.id ?? MISSING,
        product ? jitteredTtl(PRODUCT_TTL_MS) : MISSING_TTL_MS,
      );
      return product?.id ?? MISSING;
    });
    return id === MISSING ? undefined : this.byId(id);
  }

  async invalidate(product: Pick<Product, "id" | "sku">): Promise<void> {
    await Promise.all([this.cache.delete(productKey(product.id)), this.cache.delete(skuKey(product.sku))]);
  }
}

function productKey(id: string): string {
  return `catalog:product:${id}`;
}

function skuKey(sku: string): string {
  return `catalog:sku:${sku}`;
}
