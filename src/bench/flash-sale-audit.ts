import type { FlashSaleAudit, StockLevelsView, StoredOrderView } from "./invariants.js";
import type { TargetApi } from "./target-api.js";

const PAGE_SIZE = 100;
/** Bounds the page walk: a million orders, far beyond any run the bench makes. */
const MAX_PAGES = 10_000;

export interface DrainOutcome {
  readonly drained: boolean;
  /** From the end of the load to the poll that found nothing left reserved (polled every 250 ms). */
  readonly waitedMs: number;
  readonly reservedAtEnd: number | null;
  /**
   * Units reserved but not yet sold at the first poll, right after the load: the backlog the worker
   * still had to write (one unit per order in the bench's sales). Absent in results older than it.
   */
  readonly backlogAtLoadEnd?: number | null;
  /**
   * From the end of the load to the first poll that found nothing reserved: the backlog written.
   * `waitedMs` also waits for the queue depth in the target's telemetry to read 0, which the
   * bench polls once a second from 500 ms samples, so it runs up to 1.5 s later than this.
   */
  readonly backlogWrittenMs?: number | null;
}

/** How often the drain is polled: the resolution of `waitedMs`. */
export const DRAIN_POLL_MS = 250;

/** The sale's stock levels, or null when the sale cannot be read. */
export async function saleLevels(api: TargetApi, sku: string): Promise<StockLevelsView | null> {
  const response = await api.request<{ levels?: StockLevelsView }>("GET", `/admin/sales/${sku}`, {
    admin: true,
  });
  return response.status === 200 && response.body.levels ? response.body.levels : null;
}

/**
 * Waits until every accepted order of the sale has been written (nothing left reserved) and the
 * queue is empty, polling the target's API, for at most `timeoutMs`.
 */
export async function waitForDrain(
  api: TargetApi,
  sku: string,
  options: {
    readonly timeoutMs: number;
    readonly queueDepth: () => number | undefined;
    readonly onProgress: (reserved: number | null, queueDepth: number | undefined) => void;
  },
): Promise<DrainOutcome> {
  const started = Date.now();
  let reserved: number | null = null;
  let backlogAtLoadEnd: number | null | undefined;
  let backlogWrittenMs: number | null = null;
  while (Date.now() - started < options.timeoutMs) {
    reserved = (await saleLevels(api, sku))?.reserved ?? null;
    backlogAtLoadEnd ??= reserved;
    if (reserved === 0) backlogWrittenMs ??= Date.now() - started;
    const depth = options.queueDepth();
    options.onProgress(reserved, depth);
    if (reserved === 0 && (depth === undefined || depth === 0)) {
      return {
        drained: true,
        waitedMs: Date.now() - started,
        reservedAtEnd: 0,
        backlogAtLoadEnd,
        backlogWrittenMs,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
  return {
    drained: false,
    waitedMs: Date.now() - started,
    reservedAtEnd: reserved,
    backlogAtLoadEnd: backlogAtLoadEnd ?? null,
    backlogWrittenMs,
  };
}

/** Every stored order, walking `GET /admin/orders` page by page. */
export async function allStoredOrders(api: TargetApi): Promise<StoredOrderView[]> {
  const orders: StoredOrderView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const path: string = `/admin/orders?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body: { items: StoredOrderView[]; nextCursor: string | null } = await api.expect<{
      items: StoredOrderView[];
      nextCursor: string | null;
    }>(200, "GET", path, {
      admin: true,
    });
    orders.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return orders;
  }
  throw new Error(`more than ${MAX_PAGES * PAGE_SIZE} stored orders; the audit stops there`);
}

/** Gathers what the invariant checker needs, from the target's own API. */
export async function gatherFlashSaleAudit(
  api: TargetApi,
  sale: { readonly sku: string; readonly stock: number },
  answers: {
    readonly acceptedOrderIds: readonly string[];
    /** 202 answers counted, each of which must have carried an orderId. */
    readonly accepted202: number;
    /** `409 sold_out` answers counted. */
    readonly soldOutAnswers: number;
  },
  /** reconciles: the target has a live book to reconcile with its database (the naive one has none). */
  target: { readonly reconciles: boolean } = { reconciles: true },
): Promise<FlashSaleAudit> {
  const [levels, storedOrders, drift] = await Promise.all([
    saleLevels(api, sale.sku),
    allStoredOrders(api),
    target.reconciles ? driftedSkus(api, sale.sku) : Promise.resolve(undefined),
  ]);
  return {
    sku: sale.sku,
    stock: sale.stock,
    ...answers,
    levels,
    storedOrders,
    ...(drift === undefined ? {} : { drift }),
  };
}

/**
 * Whether GET /admin/stock/reconciliation reports the run's SKU drifting (others on a long-lived
 * target are not this run's to judge): [sku] or []; null when it cannot be read.
 */
async function driftedSkus(api: TargetApi, sku: string): Promise<string[] | null> {
  try {
    const report = await api.expect<{ drift: { sku: string }[] }>(200, "GET", "/admin/stock/reconciliation", {
      admin: true,
    });
    return report.drift.map((entry) => entry.sku).filter((drifting) => drifting === sku);
  } catch {
    return null;
  }
}
