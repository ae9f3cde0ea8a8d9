/** Stock levels as `GET /admin/sales/:sku` reports them. */
export interface StockLevelsView {
  readonly stock: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
}

/** A stored order as `GET /admin/orders` lists it (only the fields the checks need). */
export interface StoredOrderView {
  readonly id: string;
  readonly sku: string;
  readonly quantity: number;
  readonly status: string;
}

export interface FlashSaleAudit {
  /** The stock the sale was opened with. */
  readonly stock: number;
  /** The SKU the burst bought; stored orders of other SKUs are ignored. */
  readonly sku: string;
  /** The orderId of every 202 the generator received (a replay repeats its id). */
  readonly acceptedOrderIds: readonly string[];
  /** Levels after the drain; null when the sale could not be read. */
  readonly levels: StockLevelsView | null;
  /** Every stored order, all pages. */
  readonly storedOrders: readonly StoredOrderView[];
  /**
   * `409 sold_out` answers the generator counted; absent in audits older than this check. Once the
   * backlog drained, sold must equal min(stock, what the buyers were allowed): the whole stock if a
   * buyer was told it was sold out, and every accepted unit otherwise (one per accepted order id:
   * a buyer refused for another reason, such as a rate limit, was not allowed).
   */
  readonly soldOutAnswers?: number;
  /** 202 answers the generator counted: each must carry an orderId. */
  readonly accepted202?: number;
  /** SKUs whose live stock disagrees with the database, from GET /admin/stock/reconciliation; null: unreadable. */
  readonly drift?: readonly string[] | null;
}

export interface InvariantResult {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/**
 * The flash-sale guarantees, checked against what the target reports through its own API after
 * the backlog drained. Pure: the caller fetches, this decides, so crafted inputs can test it.
 */
export function checkFlashSaleInvariants(audit: FlashSaleAudit): InvariantResult[] {
  const orders = audit.storedOrders.filter((order) => order.sku === audit.sku);
  const timesStored = new Map<string, number>();
  for (const order of orders) timesStored.set(order.id, (timesStored.get(order.id) ?? 0) + 1);
  const accepted = new Set(audit.acceptedOrderIds);
  const live = orders.filter((order) => order.status !== "cancelled");
  const liveUnits = live.reduce((units, order) => units + order.quantity, 0);

  const notStoredOnce = [...accepted].filter((id) => timesStored.get(id) !== 1);
  const duplicated = [...timesStored].filter(([, count]) => count > 1).map(([id]) => id);
  const levels = audit.levels;
  const sample = (ids: readonly string[]) => `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}`;

  return [
    {
      name: "every 202's orderId is stored exactly once",
      pass: notStoredOnce.length === 0,
      detail:
        notStoredOnce.length === 0
          ? `${accepted.size} accepted, all stored once`
          : `${notStoredOnce.length} of ${accepted.size} accepted ids stored 0 or 2+ times: ${sample(notStoredOnce)}`,
    },
    {
      name: "no order id is stored twice",
      pass: duplicated.length === 0,
      detail:
        duplicated.length === 0
          ? `${orders.length} stored orders, ${timesStored.size} distinct ids`
          : `${duplicated.length} ids stored more than once: ${sample(duplicated)}`,
    },
    levels === null
      ? { name: "sold ≤ stock", pass: false, detail: "the sale's levels could not be read" }
      : {
          name: "sold ≤ stock",
          pass: levels.sold <= audit.stock && levels.stock === audit.stock,
          detail: `sold ${levels.sold}, stock ${levels.stock} (opened with ${audit.stock})`,
        },
    levels === null
      ? { name: "sold = stored live orders", pass: false, detail: "the sale's levels could not be read" }
      : {
          name: "sold = stored live orders",
          pass: levels.sold === liveUnits,
          detail: `sold ${levels.sold}, live (not cancelled) orders hold ${liveUnits} units in ${live.length} orders`,
        },
    levels === null
      ? { name: "stock is conserved", pass: false, detail: "the sale's levels could not be read" }
      : {
          name: "stock is conserved",
          pass: levels.available + levels.reserved + levels.sold === levels.stock,
          detail: `available ${levels.available} + reserved ${levels.reserved} + sold ${levels.sold} = ${
            levels.available + levels.reserved + levels.sold
          }, stock ${levels.stock}`,
        },
    ...(audit.soldOutAnswers === undefined
      ? []
      : [
          levels === null
            ? {
                name: "sold = min(stock, allowed)",
                pass: false,
                detail: "the sale's levels could not be read",
              }
            : audit.soldOutAnswers > 0
              ? {
                  name: "sold = min(stock, allowed)",
                  pass: levels.sold === audit.stock,
                  detail: `sold ${levels.sold} of ${audit.stock} while ${audit.soldOutAnswers} buyers were told it was sold out`,
                }
              : {
                  name: "sold = min(stock, allowed)",
                  pass: levels.sold === accepted.size,
                  detail: `sold ${levels.sold}; no buyer was told it was sold out, ${accepted.size} orders accepted`,
                },
        ]),
    ...(audit.accepted202 === undefined
      ? []
      : [
          {
            name: "every 202 carries an orderId",
            pass: audit.accepted202 === audit.acceptedOrderIds.length,
            detail: `${audit.accepted202} answers 202, ${audit.acceptedOrderIds.length} with an orderId`,
          },
        ]),
    ...(audit.drift === undefined
      ? []
      : [
          {
            name: "live stock reconciles with the database",
            pass: audit.drift !== null && audit.drift.length === 0,
            detail:
              audit.drift === null
                ? "GET /admin/stock/reconciliation could not be read"
                : audit.drift.length === 0
                  ? "no drift"
                  : `drift on ${sample([...audit.drift])}`,
          },
        ]),
    levels === null
      ? { name: "backlog drained", pass: false, detail: "the sale's levels could not be read" }
      : {
          name: "backlog drained",
          pass: levels.reserved === 0,
          detail: `${levels.reserved} units still reserved (accepted, not yet stored)`,
        },
  ];
}
