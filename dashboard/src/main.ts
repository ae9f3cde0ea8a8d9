import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { type ChartSpec, TimeSeriesCard, WINDOW_SECONDS } from "./charts.js";
import { byId } from "./dom.js";
import {
  formatAge,
  formatClock,
  formatCount,
  formatMilliseconds,
  formatPercent,
  formatRate,
} from "./format.js";
import { MailView } from "./mail.js";
import { CountsPanel, OrdersPanel, PointsPanel, StockPanel } from "./panels.js";
import { type ConnectionState, type TelemetrySample, TelemetryStream } from "./telemetry-stream.js";

const rate = (value: number | null) => (value === null ? "–" : `${formatRate(value)}/s`);
const count = (value: number | null) => (value === null ? "–" : formatCount(value));
/** Rates start at zero; the headroom keeps the peak off the top edge. */
const fromZero = (dataMax: number): [number, number] => [0, Math.max(1, dataMax * 1.15)];

/** The statuses an order enters after intake, and their colours in the orders-by-status chart. */
const ORDER_STATUS_SERIES = [
  ["created", "#0d9488"],
  ["paid", "#2563eb"],
  ["shipped", "#7c3aed"],
  ["completed", "#16a34a"],
  ["cancelled", "#dc2626"],
  ["refunded", "#d97706"],
] as const satisfies readonly (readonly [keyof TelemetrySample["orderStatuses"], string])[];

const CHARTS: readonly ChartSpec[] = [
  {
    title: "Request rate",
    unit: "HTTP requests per second, all routes",
    series: [{ key: "requestsPerSecond", label: "", color: "#2563eb", pick: (s) => s.requestsPerSecond }],
    format: rate,
    yRange: fromZero,
    wholeNumbers: true,
  },
  {
    title: "Orders accepted vs rejected",
    unit: "order requests per second",
    series: [
      { key: "acceptedPerSecond", label: "accepted", color: "#16a34a", pick: (s) => s.acceptedPerSecond },
      { key: "rejectedPerSecond", label: "rejected", color: "#dc2626", pick: (s) => s.rejectedPerSecond },
    ],
    format: rate,
    yRange: fromZero,
    wholeNumbers: true,
  },
  {
    title: "Orders by status",
    unit: "orders entering each status, per second",
    series: ORDER_STATUS_SERIES.map(([status, color]) => ({
      key: `orderStatus-${status}`,
      label: status,
      color,
      // A sample from a server without the status counters draws no line.
      pick: (s: TelemetrySample) => s.orderStatusesPerSecond?.[status] ?? null,
    })),
    format: rate,
    yRange: fromZero,
    wide: true,
  },
  {
    title: "Queue depth",
    unit: "accepted orders waiting to be stored",
    series: [{ key: "queueDepth", label: "", color: "#7c3aed", pick: (s) => s.queueDepth }],
    format: count,
    yRange: fromZero,
    wholeNumbers: true,
  },
  {
    title: "Dead letters and redeliveries",
    unit: "order messages given up on, and being retried now",
    series: [
      { key: "deadLetters", label: "dead letters", color: "#b91c1c", pick: (s) => s.deadLetters },
      { key: "redelivered", label: "redelivered", color: "#ea580c", pick: (s) => s.redelivered },
    ],
    format: count,
    yRange: fromZero,
    wholeNumbers: true,
  },
  {
    title: "Database writes",
    unit: "orders stored per second, and the configured ceiling",
    series: [
      { key: "dbWritesPerSecond", label: "stored", color: "#0d9488", pick: (s) => s.dbWritesPerSecond },
      {
        key: "dbWriteCeilingPerSecond",
        label: "ceiling",
        color: "#64748b",
        pick: (s) => s.dbWriteCeilingPerSecond,
        limit: true,
      },
    ],
    format: rate,
    yRange: fromZero,
    wholeNumbers: true,
  },
  {
    title: "Cache hit ratio",
    unit: "reads answered from the cache",
    series: [
      { key: "cacheHitRatio", label: "either level", color: "#d97706", pick: (s) => s.cacheHitRatio },
      { key: "cacheL1HitRatio", label: "in-process", color: "#92400e", pick: (s) => s.cacheL1HitRatio },
    ],
    format: formatPercent,
    yRange: () => [0, 1],
  },
  {
    title: "Cache protection",
    unit: "per second: database loads, Bloom filter refusals, joined loads, L1 evictions",
    series: [
      { key: "cacheLoadsPerSecond", label: "loads", color: "#0369a1", pick: (s) => s.cacheLoadsPerSecond },
      {
        key: "cacheFilterRejectionsPerSecond",
        label: "filtered",
        color: "#b91c1c",
        pick: (s) => s.cacheFilterRejectionsPerSecond,
      },
      {
        key: "cacheSingleflightJoinsPerSecond",
        label: "joined",
        color: "#15803d",
        pick: (s) => s.cacheSingleflightJoinsPerSecond,
      },
      {
        key: "cacheEvictionsPerSecond",
        label: "evicted",
        color: "#6b7280",
        pick: (s) => s.cacheEvictionsPerSecond,
      },
    ],
    format: rate,
    yRange: fromZero,
  },
  {
    title: "Event-loop lag",
    unit: "p99 delay per interval",
    series: [{ key: "eventLoopLagMs", label: "", color: "#db2777", pick: (s) => s.eventLoopLagMs }],
    format: (value) => (value === null ? "–" : formatMilliseconds(value)),
    // 20 ms is a busy but healthy loop; below that the axis stays put so noise looks like noise.
    yRange: (dataMax) => [0, Math.max(20, dataMax * 1.15)],
  },
];

class Dashboard {
  private readonly cards: TimeSeriesCard[];
  private readonly stock = new StockPanel(byId("stock"));
  private readonly orders = new OrdersPanel(byId("orders"));
  private readonly payments = new CountsPanel(byId("payments"), [
    { key: "opened", label: "Opened at the provider" },
    { key: "succeeded", label: "Succeeded", group: "accepted" },
    { key: "failed", label: "Failed (declined)", group: "refused" },
    { key: "flagged", label: "Flagged (amount differs)", group: "failed" },
    { key: "refunded", label: "Refunded", group: "failed" },
  ]);
  private readonly emails = new CountsPanel(byId("emails"), [
    { key: "order_confirmation", label: "Order confirmation", group: "accepted" },
    { key: "shipped", label: "Shipped", group: "accepted" },
    { key: "cancelled", label: "Cancelled", group: "accepted" },
    { key: "payment_refunded", label: "Payment refunded", group: "accepted" },
  ]);
  private readonly emailFailures = byId("email-failures");
  private readonly points = new PointsPanel(byId("points"));
  private readonly connection = byId("connection");
  private readonly connectionLabel = byId("connection-label");
  private readonly banner = byId("disconnected-banner");
  private readonly lastSample = byId("last-sample");
  private samples: TelemetrySample[] = [];
  private state: ConnectionState = { kind: "connecting" };
  private renderPending = false;

  constructor() {
    const charts = byId("charts");
    this.cards = CHARTS.map((spec) => new TimeSeriesCard(charts, spec));
    // Ages and the reconnect countdown move on even when no sample arrives.
    window.setInterval(() => this.renderStatus(), 1_000);
  }

  addSamples(fresh: readonly TelemetrySample[]): void {
    this.samples.push(...fresh);
    const newest = this.samples[this.samples.length - 1]!.at;
    const firstKept = this.samples.findIndex((sample) => sample.at >= newest - WINDOW_SECONDS * 1000);
    if (firstKept > 0) this.samples = this.samples.slice(firstKept);
    // A backfill delivers hundreds of samples at once; draw once per frame, not once per sample.
    if (!this.renderPending) {
      this.renderPending = true;
      window.requestAnimationFrame(() => {
        this.renderPending = false;
        this.render();
      });
    }
  }

  setState(state: ConnectionState): void {
    this.state = state;
    this.renderStatus();
  }

  private render(): void {
    for (const card of this.cards) card.update(this.samples);
    const latest = this.samples[this.samples.length - 1];
    if (latest) {
      this.stock.update(latest.stock);
      this.orders.update(latest.orders, latest.orderStatuses);
      this.payments.update(latest.payments);
      this.emails.update(latest.emailsSent);
      const failed = Object.values(latest.emailAttemptsFailed ?? {}).reduce((sum, n) => sum + n, 0);
      this.emailFailures.textContent =
        failed === 0 ? "No failed attempts." : `${formatCount(failed)} failed attempts, retried.`;
      this.emailFailures.dataset.value = String(failed);
      this.points.update(latest.loyaltyPoints);
    }
    this.renderStatus();
  }

  private renderStatus(): void {
    const state = this.state;
    this.connection.dataset.state = state.kind;
    document.body.dataset.connection = state.kind;
    this.connectionLabel.textContent =
      state.kind === "live" ? "Live" : state.kind === "connecting" ? "Connecting…" : "Disconnected";
    const latest = this.samples[this.samples.length - 1];
    this.lastSample.textContent = latest
      ? `last sample ${formatClock(latest.at)} (${formatAge(Date.now() - latest.at)})`
      : "waiting for the first sample";
    this.lastSample.dataset.at = latest ? String(latest.at) : "";
    this.banner.hidden = state.kind !== "disconnected";
    if (state.kind === "disconnected") {
      const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      const retry = seconds > 0 ? `reconnecting in ${seconds} s` : "reconnecting…";
      const shown = latest ? ` The charts show data up to ${formatClock(latest.at)}.` : "";
      this.banner.textContent = `Disconnected from Floodgate: ${state.reason}; ${retry}.${shown}`;
    }
  }
}

/** Two views, chosen by the URL's hash: the live figures (default) and the mail catcher (#mail). */
class Tabs {
  private readonly mail = new MailView(byId("mail-view"));

  constructor() {
    window.addEventListener("hashchange", () => this.show());
    this.show();
  }

  private show(): void {
    const view = window.location.hash === "#mail" ? "mail" : "overview";
    for (const tab of document.querySelectorAll<HTMLElement>("[data-tab]")) {
      const selected = tab.dataset.tab === view;
      tab.setAttribute("aria-selected", String(selected));
      tab.classList.toggle("selected", selected);
    }
    byId("layout").hidden = view !== "overview";
    byId("mail-view").hidden = view !== "mail";
    document.body.dataset.view = view;
    this.mail.setVisible(view === "mail");
  }
}

const dashboard = new Dashboard();
new Tabs();
new TelemetryStream({
  onSamples: (samples) => dashboard.addSamples(samples),
  onState: (state) => dashboard.setState(state),
}).start();
