import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Metrics } from "./metrics.js";

/** One sample of the figures an operator watches during a sale; rates are per second over the interval. */
export interface TelemetrySample {
  readonly at: number;
  readonly requestsPerSecond: number;
  readonly acceptedPerSecond: number;
  readonly rejectedPerSecond: number;
  readonly queueDepth: number;
  /** Messages in the order queue's dead-letter topic. */
  readonly deadLetters: number;
  /** Unacked messages delivered more than once: being retried now. */
  readonly redelivered: number;
  readonly dbWritesPerSecond: number;
  /** FLOODGATE_ORDER_WRITE_RATE; null when there is no ceiling (or no order worker here). */
  readonly dbWriteCeilingPerSecond: number | null;
  /** Hits at either level / lookups over the interval; null when there were no lookups. */
  readonly cacheHitRatio: number | null;
  /** Hits in the in-process level alone / lookups; null when there were no lookups. */
  readonly cacheL1HitRatio: number | null;
  /** Loads from the database (cache misses that reached it), per second. */
  readonly cacheLoadsPerSecond: number;
  /** Reads the Bloom filter refused (ids that cannot exist), per second. */
  readonly cacheFilterRejectionsPerSecond: number;
  /** Reads that joined a load already running (stampede protection), per second. */
  readonly cacheSingleflightJoinsPerSecond: number;
  /** Entries the in-process level evicted for space, per second. */
  readonly cacheEvictionsPerSecond: number;
  readonly eventLoopLagMs: number;
  /** Stock units per SKU in an active sale: available / reserved / sold. */
  readonly stock: Readonly<Record<string, { available: number; reserved: number; sold: number }>>;
  /** Cumulative order requests by intake outcome since start, and `stored`: orders the worker stored. */
  readonly orders: Readonly<Record<string, number>>;
  /**
   * Orders that entered each status in this process since it started: `created` is orders stored,
   * the others transitions applied (committed). An order counts once in every status it passed.
   */
  readonly orderStatuses: Readonly<Record<SampledOrderStatus, number>>;
  /** The same, per second over the interval: orders by status over time. */
  readonly orderStatusesPerSecond: Readonly<Record<SampledOrderStatus, number>>;
  /** Cumulative payments by outcome (`payments_total`): opened, succeeded, failed, flagged, refunded. */
  readonly payments: Readonly<Record<string, number>>;
  /** Cumulative emails the mail server accepted, by kind (`notifications_emails_sent_total`). */
  readonly emailsSent: Readonly<Record<string, number>>;
  /** Cumulative failed attempts to send an email (retried), by kind. */
  readonly emailAttemptsFailed: Readonly<Record<string, number>>;
  /** Cumulative loyalty points awarded for completed orders and taken back from refunded ones. */
  readonly loyaltyPoints: { readonly awarded: number; readonly reversed: number };
}

/**
 * The statuses an order enters after intake, in the order of its life. `created` counts orders
 * stored (`orders_stored_total`), the others applied transitions (`orders_transitions_total{to}`).
 */
export const SAMPLED_ORDER_STATUSES = [
  "created",
  "paid",
  "shipped",
  "completed",
  "cancelled",
  "refunded",
] as const;

export type SampledOrderStatus = (typeof SAMPLED_ORDER_STATUSES)[number];

const LOOP_RESOLUTION_MS = 10;

type Values = { labels: Record<string, string | number>; value: number }[];

/**
 * Samples the process's own Prometheus registry every `intervalMs` into a ring buffer, turning
 * counters into rates. The dashboard streams these samples and the bench report draws them, so
 * both show exactly what /metrics shows.
 */
export class TelemetrySampler {
  private readonly samples: TelemetrySample[] = [];
  private readonly listeners = new Set<(sample: TelemetrySample) => void>();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private previous: Map<string, number> | undefined;
  private previousAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly intervalMs = 500,
    private readonly capacity = 2400,
  ) {}

  start(): void {
    this.loopDelay.enable();
    // A failed sample (a gauge whose source is closing) is skipped, never an unhandled rejection.
    this.timer = setInterval(() => void this.sample().catch(() => {}), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.loopDelay.disable();
    this.listeners.clear();
  }

  since(at: number): TelemetrySample[] {
    return this.samples.filter((sample) => sample.at > at);
  }

  subscribe(listener: (sample: TelemetrySample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * p99 of the event loop's delay over the interval. The histogram measures the time between
   * timer ticks, which includes the tick interval itself; that is subtracted.
   */
  private eventLoopLagMs(): number {
    const p99 = this.loopDelay.percentile(99) / 1e6;
    return Number.isFinite(p99) ? Math.max(0, p99 - LOOP_RESOLUTION_MS) : 0;
  }

  private async values(name: string): Promise<Values> {
    const metric = this.metrics.registry.getSingleMetric(`floodgate_${name}`);
    if (!metric) return [];
    return (await metric.get()).values as Values;
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    const counters = new Map<string, number>();
    const sum = (
      values: Values,
      key: string,
      filter: (labels: Values[number]["labels"]) => boolean = () => true,
    ) => {
      counters.set(
        key,
        values.filter((v) => filter(v.labels)).reduce((total, v) => total + v.value, 0),
      );
    };
    const requests = await this.values("http_request_duration_seconds");
    sum(
      requests.filter((v) => (v as { metricName?: string }).metricName?.endsWith("_count")),
      "requests",
    );
    const intake = await this.values("orders_intake_total");
    sum(intake, "accepted", (l) => l.outcome === "accepted" || l.outcome === "replayed");
    sum(intake, "rejected", (l) => l.outcome !== "accepted" && l.outcome !== "replayed");
    sum(await this.values("orders_stored_total"), "stored");
    const lookups = await this.values("cache_lookups_total");
    sum(lookups, "hits", (l) => l.outcome === "hit");
    sum(lookups, "lookups", (l) => l.level === "l1");
    sum(lookups, "l1Hits", (l) => l.level === "l1" && l.outcome === "hit");
    const loads = await this.values("cache_load_seconds");
    sum(
      loads.filter((v) => (v as { metricName?: string }).metricName?.endsWith("_count")),
      "loads",
    );
    sum(await this.values("cache_filter_rejections_total"), "rejections");
    sum(await this.values("cache_singleflight_joins_total"), "joins");
    sum(await this.values("cache_l1_evictions_total"), "evictions");

    const orders: Record<string, number> = {};
    for (const v of intake) orders[String(v.labels.outcome)] = v.value;
    orders.stored = counters.get("stored") ?? 0;
    // Orders by the status they entered: stored ones are `created`, the rest applied transitions.
    const transitions = await this.values("orders_transitions_total");
    for (const status of SAMPLED_ORDER_STATUSES) {
      if (status === "created") counters.set("status_created", counters.get("stored") ?? 0);
      else sum(transitions, `status_${status}`, (l) => l.to === status);
    }
    const byLabel = (values: Values, label: string) => {
      const counts: Record<string, number> = {};
      for (const v of values) {
        const key = String(v.labels[label]);
        counts[key] = (counts[key] ?? 0) + v.value;
      }
      return counts;
    };
    const payments = byLabel(await this.values("payments_total"), "outcome");
    const emailsSent = byLabel(await this.values("notifications_emails_sent_total"), "kind");
    const emailAttemptsFailed = byLabel(
      await this.values("notifications_email_attempts_failed_total"),
      "kind",
    );
    const loyaltyPoints = {
      awarded: (await this.values("loyalty_points_awarded_total")).reduce((sum, v) => sum + v.value, 0),
      reversed: (await this.values("loyalty_points_reversed_total")).reduce((sum, v) => sum + v.value, 0),
    };

    const stock: Record<string, { available: number; reserved: number; sold: number }> = {};
    for (const v of await this.values("inventory_stock_units")) {
      const sku = String(v.labels.sku);
      stock[sku] ??= { available: 0, reserved: 0, sold: 0 };
      const state = String(v.labels.state) as "available" | "reserved" | "sold";
      stock[sku][state] = v.value;
    }
    const total = (values: Values) => values.reduce((sum, v) => sum + v.value, 0);
    const queueDepth = total(await this.values("queue_lag_messages"));
    const deadLetters = total(await this.values("queue_dead_letter_messages"));
    const redelivered = total(await this.values("queue_redelivered_messages"));
    const ceiling = total(await this.values("orders_write_rate_ceiling"));

    const seconds = this.previous ? (now - this.previousAt) / 1000 : 0;
    const rate = (key: string) =>
      this.previous && seconds > 0
        ? Math.max(0, ((counters.get(key) ?? 0) - (this.previous.get(key) ?? 0)) / seconds)
        : 0;
    const lookupsInInterval = rate("lookups") * seconds;
    const sample: TelemetrySample = {
      at: now,
      requestsPerSecond: rate("requests"),
      acceptedPerSecond: rate("accepted"),
      rejectedPerSecond: rate("rejected"),
      queueDepth,
      deadLetters,
      redelivered,
      dbWritesPerSecond: rate("stored"),
      dbWriteCeilingPerSecond: ceiling > 0 ? ceiling : null,
      cacheHitRatio: lookupsInInterval > 0 ? (rate("hits") * seconds) / lookupsInInterval : null,
      cacheL1HitRatio: lookupsInInterval > 0 ? (rate("l1Hits") * seconds) / lookupsInInterval : null,
      cacheLoadsPerSecond: rate("loads"),
      cacheFilterRejectionsPerSecond: rate("rejections"),
      cacheSingleflightJoinsPerSecond: rate("joins"),
      cacheEvictionsPerSecond: rate("evictions"),
      eventLoopLagMs: this.eventLoopLagMs(),
      stock,
      orders,
      orderStatuses: perStatus((status) => counters.get(`status_${status}`) ?? 0),
      orderStatusesPerSecond: perStatus((status) => rate(`status_${status}`)),
      payments,
      emailsSent,
      emailAttemptsFailed,
      loyaltyPoints,
    };
    this.loopDelay.reset();
    this.previous = counters;
    this.previousAt = now;
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.shift();
    for (const listener of this.listeners) listener(sample);
  }
}

function perStatus(value: (status: SampledOrderStatus) => number): Record<SampledOrderStatus, number> {
  return Object.fromEntries(SAMPLED_ORDER_STATUSES.map((status) => [status, value(status)])) as Record<
    SampledOrderStatus,
    number
  >;
}
