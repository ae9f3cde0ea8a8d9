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
import { OrdersPanel, StockPanel } from "./panels.js";
import { type ConnectionState, type TelemetrySample, TelemetryStream } from "./telemetry-stream.js";

const rate = (value: number | null) => (value === null ? "–" : `${formatRate(value)}/s`);
const count = (value: number | null) => (value === null ? "–" : formatCount(value));
/** Rates start at zero; the headroom keeps the peak off the top edge. */
const fromZero = (dataMax: number): [number, number] => [0, Math.max(1, dataMax * 1.15)];

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
      this.orders.update(latest.orders);
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

const dashboard = new Dashboard();
new TelemetryStream({
  onSamples: (samples) => dashboard.addSamples(samples),
  onState: (state) => dashboard.setState(state),
}).start();
