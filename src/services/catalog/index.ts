import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { CATALOG_OPERATIONS, type CatalogApi } from "./api.js";
import { PRODUCT_TTL_MS, ProductReader } from "./product-reader.js";
import { ProductStore } from "./product-store.js";
import { registerCatalogRoutes } from "./routes.js";

/** The id filter is sized for this many products at first, and rebuilt twice as big when full. */
const EXPECTED_PRODUCTS = 100_000;
const BLOOM_FALSE_POSITIVE_RATE = 0.01;
const FILTER_REFRESH_INTERVAL_MS = 1_000;

export const catalogService: ServiceModule<CatalogApi> = {
  name: "catalog",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: CATALOG_OPERATIONS,
  async start(context) {
    const logger = context.logger.child({ service: "catalog" });
    const store = new ProductStore(context.databases.primary);
    const reader = new ProductReader(
      store,
      context.caching.readThrough("catalog", { longestTtlMs: PRODUCT_TTL_MS }),
      context.caching.membershipFilter("catalog-product-ids", BLOOM_FALSE_POSITIVE_RATE),
      EXPECTED_PRODUCTS,
    );
    await reader.refreshFilter();
    // Adds ids other processes created; rebuilds a filter that vanished, lost its bitmap, went back
    // in time (a Redis restored from a snapshot), filled up, or is older than its rebuild interval.
    let refreshing = false;
    const filterCheck = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      reader
        .refreshFilter()
        .catch((error: unknown) => logger.warn({ err: error }, "id filter refresh failed"))
        .finally(() => {
          refreshing = false;
        });
    }, FILTER_REFRESH_INTERVAL_MS);
    filterCheck.unref();
    if (context.config.cacheWarmTop > 0) await reader.warmTop(context.config.cacheWarmTop);
    const api: CatalogApi = {
      productBySku: async ({ sku }) => (await reader.bySku(sku)) ?? null,
      productById: async ({ id }) => (await reader.byId(id)) ?? null,
    };
    return {
      api,
      routes: (app) =>
        registerCatalogRoutes(app, { store, reader, ids: context.ids, tokens: context.tokens }),
      stop: async () => clearInterval(filterCheck),
    };
  },
};
