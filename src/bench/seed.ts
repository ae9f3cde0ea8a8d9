import { type BenchOptions, isOrderBurst } from "./options.js";
import type { TargetApi } from "./target-api.js";
import { warmUpStock } from "./warm-up.js";

/** Parallel admin calls while seeding: enough to be quick, few enough not to be a load test. */
const SEED_CONCURRENCY = 16;
/** Buyers in the mixed scenario place several orders over a run; one would refuse most of them. */
const MIXED_PER_USER_LIMIT = 100;

export interface SeededScenario {
  /** The SKU on sale; empty when the scenario sells nothing. */
  readonly sku: string;
  /** A second sale for the warm-up's orders, so the measured sale starts untouched; empty when none. */
  readonly warmUpSku: string;
  /** Product ids in creation order (rank 0 = most popular for the Zipf reads). */
  readonly productIds: string[];
  /** Product reads made before the measured run so it reads from a warm cache. */
  readonly warmUpReads: number;
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

async function createProducts(api: TargetApi, count: number, runTag: string): Promise<string[]> {
  const ids = new Array<string>(count);
  const numbers = Array.from({ length: count }, (_, i) => i);
  await forEachLimited(numbers, SEED_CONCURRENCY, async (i) => {
    const product = await api.expect<{ id: string }>(201, "POST", "/admin/products", {
      admin: true,
      body: {
        sku: `B${runTag}-${String(i).padStart(6, "0")}`,
        name: `Bench product ${i}`,
        priceCents: 100 + ((i * 37) % 10_000),
        currency: "EUR",
      },
    });
    ids[i] = product.id;
  });
  return ids;
}

/** Creates the sale's product and opens its sale, from a minute ago for a day. */
export async function openSale(
  api: TargetApi,
  sku: string,
  stock: number,
  perUserLimit: number,
): Promise<void> {
  await api.expect(201, "POST", "/admin/products", {
    admin: true,
    body: { sku, name: `Bench flash sale ${sku}`, priceCents: 4999, currency: "EUR" },
  });
  await api.expect(201, "POST", "/admin/sales", {
    admin: true,
    body: {
      sku,
      stock,
      perUserLimit,
      // Opened a minute ago and open for a day: the window is not what is measured.
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 86_400_000).toISOString(),
    },
  });
}

/** Reads every product once so the measured run sees the cache as a running shop has it. */
async function readEveryProduct(api: TargetApi, productIds: readonly string[]): Promise<number> {
  await forEachLimited(productIds, SEED_CONCURRENCY, async (id) => {
    await api.expect(200, "GET", `/products/${id}`);
  });
  return productIds.length;
}

/** Seeds what a scenario needs through the target's public admin API, as an operator would. */
export async function seedScenario(
  api: TargetApi,
  options: BenchOptions,
  runTag: string,
): Promise<SeededScenario> {
  const sells = options.scenario !== "catalog-read";
  const sku = sells ? `FLASH-${runTag}` : "";
  const warmUpSku = sells && options.warmup > 0 ? `WARM-${runTag}` : "";
  // flash-sale: one unit per buyer, so a buyer's retry must not buy twice and N ≫ stock is a race.
  const perUserLimit = isOrderBurst(options.scenario) ? 1 : MIXED_PER_USER_LIMIT;
  if (warmUpSku) await openSale(api, warmUpSku, warmUpStock(options.warmup), perUserLimit);
  if (sells) await openSale(api, sku, options.stock, perUserLimit);
  if (isOrderBurst(options.scenario)) return { sku, warmUpSku, productIds: [], warmUpReads: 0 };
  const productIds = await createProducts(api, options.products, runTag);
  return { sku, warmUpSku, productIds, warmUpReads: await readEveryProduct(api, productIds) };
}

/** Ids for baselines, which keep no catalog: the same count and shape, so the requests match. */
export function syntheticProductIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(100_000_000_000_000_000n + BigInt(i)));
}
