import { element } from "./dom.js";
import { formatCount } from "./format.js";
import type { TelemetrySample } from "./telemetry-stream.js";

type StockLevels = TelemetrySample["stock"][string];
type StockState = keyof StockLevels;
const STOCK_STATES: readonly StockState[] = ["available", "reserved", "sold"];

interface StockRow {
  readonly root: HTMLElement;
  readonly total: HTMLElement;
  readonly values: Record<StockState, HTMLElement>;
  readonly segments: Record<StockState, HTMLElement>;
}

/**
 * Stock per SKU: a bar split into sold / reserved / available and the three numbers. Rows are
 * kept and updated in place, so the panel does not flicker twice a second.
 */
export class StockPanel {
  private readonly rows = new Map<string, StockRow>();
  private readonly empty: HTMLElement;

  constructor(private readonly container: HTMLElement) {
    this.empty = element("p", "empty", "No sale has stock yet. Open one with POST /admin/sales.");
    container.append(this.empty);
  }

  update(stock: TelemetrySample["stock"]): void {
    const skus = Object.keys(stock).sort();
    this.empty.hidden = skus.length > 0;
    for (const [sku, row] of this.rows) {
      if (!Object.hasOwn(stock, sku)) {
        row.root.remove();
        this.rows.delete(sku);
      }
    }
    for (const sku of skus) this.render(sku, stock[sku]!);
  }

  private render(sku: string, levels: StockLevels): void {
    let row = this.rows.get(sku);
    if (!row) {
      row = this.createRow(sku);
      this.rows.set(sku, row);
    }
    const total = levels.available + levels.reserved + levels.sold;
    row.total.textContent = `${formatCount(levels.available)} left of ${formatCount(total)}`;
    for (const state of STOCK_STATES) {
      row.values[state].textContent = formatCount(levels[state]);
      row.values[state].dataset.value = String(levels[state]);
      row.segments[state].style.flexGrow = String(total > 0 ? levels[state] / total : 0);
    }
  }

  private createRow(sku: string): StockRow {
    const root = element("div", "stock-row");
    root.dataset.sku = sku;
    const heading = element("div", "stock-heading");
    const total = element("span", "stock-total");
    heading.append(element("span", "stock-sku", sku), total);
    const segments = {
      sold: element("span", "segment segment-sold"),
      reserved: element("span", "segment segment-reserved"),
      available: element("span", "segment segment-available"),
    };
    const bar = element("div", "stock-bar");
    bar.setAttribute("aria-hidden", "true");
    // Sold first: the bar fills from the left as the sale progresses.
    bar.append(segments.sold, segments.reserved, segments.available);
    const values = {
      available: stockValue("available"),
      reserved: stockValue("reserved"),
      sold: stockValue("sold"),
    };
    const legend = element("div", "stock-legend");
    for (const state of STOCK_STATES) {
      const item = element("span", "stock-state");
      item.append(element("i", `dot segment-${state}`), `${state} `, values[state]);
      legend.append(item);
    }
    root.append(heading, bar, legend);
    // Keep rows in SKU order as sales appear.
    const next = [...this.rows.values()]
      .map((row) => row.root)
      .find((existing) => (existing.dataset.sku ?? "") > sku);
    this.container.insertBefore(root, next ?? null);
    return { root, total, values, segments };
  }
}

function stockValue(state: StockState): HTMLElement {
  const value = element("b", "stock-value");
  value.dataset.stock = state;
  return value;
}

/** What each `orders` key counts, in words, and the group it belongs to. */
const OUTCOMES: Readonly<Record<string, { label: string; group: OutcomeGroup }>> = {
  accepted: { label: "Accepted (202)", group: "accepted" },
  replayed: { label: "Replayed (same Idempotency-Key)", group: "accepted" },
  sold_out: { label: "Sold out", group: "refused" },
  sold_out_flag: { label: "Sold out, fast path", group: "refused" },
  limit_exceeded: { label: "Over the per-user limit", group: "refused" },
  sale_not_open: { label: "Sale not open", group: "refused" },
  unknown_sku: { label: "Unknown SKU", group: "refused" },
  idempotency_key_reused: { label: "Idempotency-Key reused", group: "refused" },
  accepted_after_append_error: { label: "Accepted after an append error (202)", group: "accepted" },
  not_accepted: { label: "Not recorded (503, retry)", group: "failed" },
  outcome_unknown: { label: "Outcome unknown (503, retry with the key)", group: "failed" },
};
type OutcomeGroup = "accepted" | "refused" | "failed";

/**
 * Orders since the process started: their status (pending in the queue, created, cancelled) and
 * every intake outcome, from the cumulative counters in the sample.
 */
export class OrdersPanel {
  private readonly statusValues = new Map<string, HTMLElement>();
  private readonly outcomeList: HTMLElement;

  constructor(container: HTMLElement) {
    const statuses = element("div", "order-statuses");
    for (const [status, label] of [
      ["pending", "Pending"],
      ["created", "Created"],
      ["cancelled", "Cancelled"],
    ] as const) {
      const tile = element("div", `status-tile status-${status}`);
      tile.dataset.status = status;
      const value = element("b", "status-value", "0");
      tile.append(value, element("span", "status-label", label));
      statuses.append(tile);
      this.statusValues.set(status, value);
    }
    this.outcomeList = element("ul", "outcomes");
    container.append(
      statuses,
      element("h3", "outcomes-title", "Order requests by outcome"),
      this.outcomeList,
    );
  }

  update(orders: TelemetrySample["orders"]): void {
    const count = (key: string) => orders[key] ?? 0;
    const cancelled = Object.entries(orders)
      .filter(([key]) => key.startsWith("cancelled_"))
      .reduce((sum, [, value]) => sum + value, 0);
    // Counters restart with the process while stored orders may be redelivered from before it,
    // so "pending" can only be estimated; it is never shown below zero.
    const statuses = {
      pending: Math.max(0, count("accepted") - count("stored")),
      created: Math.max(0, count("stored") - cancelled),
      cancelled,
    };
    for (const [status, value] of Object.entries(statuses)) {
      const cell = this.statusValues.get(status)!;
      cell.textContent = formatCount(value);
      cell.dataset.value = String(value);
    }
    this.renderOutcomes(orders);
  }

  private renderOutcomes(orders: TelemetrySample["orders"]): void {
    const outcomes = Object.entries(orders)
      .filter(([key]) => key !== "stored" && !key.startsWith("cancelled_"))
      .sort(([, a], [, b]) => b - a);
    const largest = Math.max(1, ...outcomes.map(([, value]) => value));
    const items = outcomes.map(([key, value]) => {
      const known = OUTCOMES[key];
      const item = element("li", `outcome group-${known?.group ?? "other"}`);
      item.dataset.outcome = key;
      item.dataset.value = String(value);
      const bar = element("span", "outcome-bar");
      bar.style.width = `${(value / largest) * 100}%`;
      item.append(
        element("span", "outcome-label", known?.label ?? key.replaceAll("_", " ")),
        element("span", "outcome-count", formatCount(value)),
        bar,
      );
      return item;
    });
    if (items.length === 0) items.push(element("li", "empty", "No order requests yet."));
    this.outcomeList.replaceChildren(...items);
  }
}
