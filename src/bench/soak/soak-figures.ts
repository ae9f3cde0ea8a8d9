/** The targets of issue 17 (item 6) the soak is judged against. */
export const SOAK_TARGETS = {
  /** Bytes of heap kept (after a forced GC) per settled order, amortised. */
  retainedBytesPerOrder: 16,
  /** The heap after GC stays within this fraction from the window's start to the end. */
  heapFlatWithin: 0.1,
  /** Where the window starts: the 200k of 1M, or a fifth of a shorter run. */
  windowFromOrders: 200_000,
} as const;

/** One checkpoint: what the target held once every accepted order so far was stored. */
export interface HeapPoint {
  /** Orders stored (settled) so far. */
  readonly orders: number;
  /** process.memoryUsage().heapUsed after a forced GC, bytes. */
  readonly heapUsed: number;
}

/** Where the flatness and slope window starts for a run of `totalOrders`. */
export function windowStart(totalOrders: number): number {
  return Math.min(SOAK_TARGETS.windowFromOrders, Math.round(totalOrders / 5));
}

/** The points from `fromOrders` on (the window), in order of orders. */
function inWindow(points: readonly HeapPoint[], fromOrders: number): HeapPoint[] {
  return points.filter((point) => point.orders >= fromOrders).sort((a, b) => a.orders - b.orders);
}

export interface RetainedBytes {
  readonly fromOrders: number;
  readonly toOrders: number;
  /** Least-squares slope of heap after GC against stored orders over the window, bytes/order. */
  readonly slopeBytesPerOrder: number;
  /** (last heap − first heap) ÷ (last orders − first orders) over the window, bytes/order. */
  readonly endToEndBytesPerOrder: number;
}

/**
 * Bytes the target keeps per settled order: how heap-after-GC grows with stored orders from
 * `fromOrders` to the end. The slope is fitted over every checkpoint of the window, so one noisy
 * checkpoint weighs less than with the two ends alone (also given). null with fewer than two
 * checkpoints of distinct order counts in the window.
 */
export function retainedBytesPerOrder(
  points: readonly HeapPoint[],
  fromOrders: number,
): RetainedBytes | null {
  const window = inWindow(points, fromOrders);
  const first = window[0];
  const last = window.at(-1);
  if (!first || !last || last.orders === first.orders) return null;
  const n = window.length;
  const meanX = window.reduce((sum, point) => sum + point.orders, 0) / n;
  const meanY = window.reduce((sum, point) => sum + point.heapUsed, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const point of window) {
    covariance += (point.orders - meanX) * (point.heapUsed - meanY);
    variance += (point.orders - meanX) ** 2;
  }
  return {
    fromOrders: first.orders,
    toOrders: last.orders,
    slopeBytesPerOrder: covariance / variance,
    endToEndBytesPerOrder: (last.heapUsed - first.heapUsed) / (last.orders - first.orders),
  };
}

export interface HeapFlatness {
  readonly fromOrders: number;
  readonly toOrders: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  /** max ÷ min − 1 over the window: 0.1 is a 10 % spread. */
  readonly spread: number;
  readonly flat: boolean;
}

/**
 * Whether heap after GC stays flat over the window: the largest checkpoint within
 * `within` (10 %) of the smallest. null with no checkpoint in the window.
 */
export function heapFlatness(
  points: readonly HeapPoint[],
  fromOrders: number,
  within: number = SOAK_TARGETS.heapFlatWithin,
): HeapFlatness | null {
  const window = inWindow(points, fromOrders);
  if (window.length === 0) return null;
  const heaps = window.map((point) => point.heapUsed);
  const minBytes = Math.min(...heaps);
  const maxBytes = Math.max(...heaps);
  const spread = minBytes > 0 ? maxBytes / minBytes - 1 : Number.POSITIVE_INFINITY;
  return {
    fromOrders: window[0]!.orders,
    toOrders: window.at(-1)!.orders,
    minBytes,
    maxBytes,
    spread,
    flat: spread <= within,
  };
}

/**
 * The inventory sweeper's counter `inventory_sweep_seconds_total` (the platform prefixes it
 * `floodgate_`), summed over its label sets, from a Prometheus exposition; null when the target
 * does not expose it.
 */
export function sweepSecondsTotal(metrics: string): number | null {
  let total: number | null = null;
  for (const line of metrics.split("\n")) {
    const match = /^(?:floodgate_)?inventory_sweep_seconds_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[1]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** A counter read at two times: its growth per second of wall time; null when either is missing. */
export function perSecond(
  before: { readonly atMs: number; readonly value: number | null },
  after: { readonly atMs: number; readonly value: number | null },
): number | null {
  if (before.value === null || after.value === null || after.atMs <= before.atMs) return null;
  return (after.value - before.value) / ((after.atMs - before.atMs) / 1000);
}
