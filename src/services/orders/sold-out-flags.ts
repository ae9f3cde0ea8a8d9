import type { Broadcast } from "../../platform/broadcast/broadcast.js";
import { BloomBits } from "../../platform/cache/bloom/bloom-bits.js";
import { STOCK_AVAILABILITY_CHANNEL, type StockAvailability } from "../inventory/api.js";

/**
 * A sold-out flag is trusted this long after it was last confirmed; then one request goes through
 * to the inventory to check again (and re-confirms it). The news is best effort — a lost "back on
 * sale" must not refuse buyers forever — so this bounds how stale a flag can be.
 */
const RECHECK_MS = 1000;

interface SkuState {
  available: number;
  version: number;
  confirmedAt: number;
  /** Who held the units when it sold out; absent = unknown (keyed requests go to the inventory). */
  holders: BloomBits | undefined;
}

/**
 * What this intake process knows of sold-out SKUs, from the inventory's broadcast news and its own
 * refusals, ordered by the stock version so old news never overrides newer.
 *
 * A request with an Idempotency-Key may be the replay of an order that was accepted before the
 * SKU sold out, and must get that order back, not 409. The news carries a Bloom filter of the
 * user-and-key pairs holding the sold-out units: a pair that is surely not in it is refused here;
 * one that might be goes to the inventory, which knows.
 */
export class SoldOutFlags {
  private readonly skus = new Map<string, SkuState>();

  constructor(
    broadcast: Broadcast,
    private readonly now: () => number = Date.now,
  ) {
    broadcast.subscribe(STOCK_AVAILABILITY_CHANNEL, (message) => {
      const news = parseNews(message);
      if (news) this.learn(news);
    });
  }

  learn(news: StockAvailability): void {
    const known = this.skus.get(news.sku);
    if (known && known.version > news.version) return;
    let holders: BloomBits | undefined;
    try {
      holders = news.holders && BloomBits.fromSnapshot(news.holders);
    } catch {
      holders = undefined;
    }
    // The same version again (a refusal this process saw) keeps the filter the news brought.
    if (!holders && known && known.version === news.version) holders = known.holders;
    this.skus.set(news.sku, {
      available: news.available,
      version: news.version,
      confirmedAt: this.now(),
      holders,
    });
  }

  /**
   * True when the request can be refused as sold out without asking the inventory. `userKey` is
   * `user \0 key` for a request with an Idempotency-Key.
   */
  refuses(sku: string, userKey: string | undefined): boolean {
    const state = this.skus.get(sku);
    if (!state || state.available > 0) return false;
    if (userKey !== undefined && (!state.holders || state.holders.test(userKey))) return false;
    if (this.now() - state.confirmedAt < RECHECK_MS) return true;
    // Stale: this request asks the inventory; the others keep trusting the flag meanwhile.
    state.confirmedAt = this.now();
    return false;
  }
}

function parseNews(message: string): StockAvailability | undefined {
  try {
    const news = JSON.parse(message) as Partial<StockAvailability>;
    if (
      typeof news.sku !== "string" ||
      typeof news.available !== "number" ||
      typeof news.version !== "number"
    )
      return undefined;
    return news as StockAvailability;
  } catch {
    return undefined;
  }
}
