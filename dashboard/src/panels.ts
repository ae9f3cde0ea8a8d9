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

/** The order statuses as tiles, in the order of an order's life; pending is estimated (below). */
const STATUS_TILES = [
  ["pending", "Pending"],
  ["created", "Created"],
  ["paid", "Paid"],
  ["shipped", "Shipped"],
  ["completed", "Completed"],
  ["cancelled", "Cancelled"],
  ["refunded", "Refunded"],
] as const satisfies readonly (readonly ["pending" | keyof TelemetrySample["orderStatuses"], string])[];

/**
 * Orders since the process started: how many reached each status (stored as created, then paid,
 * shipped, … as their transitions were applied) and every intake outcome, from the cumulative
 * counters in the sample. An order counts once in every status it passed through.
 */
export class OrdersPanel {
  private readonly statusValues = new Map<string, HTMLElement>();
  private readonly outcomeList: HTMLElement;

  constructor(container: HTMLElement) {
    const statuses = element("div", "order-statuses");
    for (const [status, label] of STATUS_TILES) {
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
      element(
        "p",
        "caption",
        "Orders that reached each status here since the process started; pending: accepted, not yet stored.",
      ),
      element("h3", "outcomes-title", "Order requests by outcome"),
      this.outcomeList,
    );
  }

  update(orders: TelemetrySample["orders"], reached: TelemetrySample["orderStatuses"] | undefined): void {
    const count = (key: string) => orders[key] ?? 0;
    // Counters restart with the process while stored orders may be redelivered from before it,
    // so "pending" can only be estimated; it is never shown below zero.
    const statuses: Record<string, number> = {
      pending: Math.max(0, count("accepted") - count("stored")),
      created: count("stored"),
      // A sample from a server without the status counters (an older one) shows zeros.
      ...reached,
    };
    for (const [status, cell] of this.statusValues) {
      const value = statuses[status] ?? 0;
      cell.textContent = formatCount(value);
      cell.dataset.value = String(value);
    }
    this.renderOutcomes(orders);
  }

  private renderOutcomes(orders: TelemetrySample["orders"]): void {
    const outcomes = Object.entries(orders)
      .filter(([key]) => key !== "stored")
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

export interface CountItem {
  readonly key: string;
  readonly label: string;
  /** A colour class for the bar (`group-accepted`, `group-refused`, `group-failed`). */
  readonly group?: OutcomeGroup;
}

/**
 * Labelled counts with a bar each, largest = full width: payments by outcome, emails by kind.
 * The known items are always listed (zero until they happen); others appear as they are counted.
 */
export class CountsPanel {
  private readonly rows = new Map<string, { root: HTMLElement; count: HTMLElement; bar: HTMLElement }>();

  constructor(
    private readonly list: HTMLElement,
    known: readonly CountItem[],
  ) {
    list.classList.add("outcomes");
    for (const item of known) this.row(item);
  }

  update(counts: Readonly<Record<string, number>> | undefined): void {
    const values = counts ?? {};
    for (const key of Object.keys(values)) {
      if (!this.rows.has(key)) this.row({ key, label: key.replaceAll("_", " ") });
    }
    const largest = Math.max(1, ...Object.values(values));
    for (const [key, row] of this.rows) {
      const value = values[key] ?? 0;
      row.count.textContent = formatCount(value);
      row.root.dataset.value = String(value);
      row.bar.style.width = `${(value / largest) * 100}%`;
    }
  }

  private row(item: CountItem) {
    const root = element("li", `outcome group-${item.group ?? "other"}`);
    root.dataset.key = item.key;
    root.dataset.value = "0";
    const count = element("span", "outcome-count", "0");
    const bar = element("span", "outcome-bar");
    bar.style.width = "0%";
    root.append(element("span", "outcome-label", item.label), count, bar);
    this.list.append(root);
    const row = { root, count, bar };
    this.rows.set(item.key, row);
    return row;
  }
}

/** Loyalty points since start: awarded for completed orders, taken back from refunded ones, and the net. */
export class PointsPanel {
  private readonly values = new Map<string, HTMLElement>();

  constructor(container: HTMLElement) {
    const tiles = element("div", "order-statuses");
    for (const [key, label] of [
      ["awarded", "Awarded"],
      ["reversed", "Taken back"],
      ["net", "Net"],
    ] as const) {
      const tile = element("div", `status-tile points-${key}`);
      tile.dataset.points = key;
      const value = element("b", "status-value", "0");
      tile.append(value, element("span", "status-label", label));
      tiles.append(tile);
      this.values.set(key, value);
    }
    container.append(tiles);
  }

  update(points: TelemetrySample["loyaltyPoints"] | undefined): void {
    const awarded = points?.awarded ?? 0;
    const reversed = points?.reversed ?? 0;
    for (const [key, value] of [
      ["awarded", awarded],
      ["reversed", reversed],
      ["net", awarded - reversed],
    ] as const) {
      const cell = this.values.get(key)!;
      cell.textContent = formatCount(value);
      cell.dataset.value = String(value);
    }
  }
}
