import { describe, expect, it } from "vitest";
import {
  checkFlashSaleInvariants,
  type FlashSaleAudit,
  type StoredOrderView,
} from "../../src/bench/invariants.js";

const SKU = "FLASH-1";
const order = (id: string, status = "created", sku = SKU): StoredOrderView => ({
  id,
  sku,
  quantity: 1,
  status,
});

/** A sale of 3 units: three buyers accepted, all stored, nothing left reserved. */
function healthy(): FlashSaleAudit {
  return {
    sku: SKU,
    stock: 3,
    acceptedOrderIds: ["1", "2", "3"],
    levels: { stock: 3, available: 0, reserved: 0, sold: 3 },
    storedOrders: [order("3"), order("2"), order("1")],
    soldOutAnswers: 2,
    accepted202: 3,
    drift: [],
  };
}

const verdicts = (audit: FlashSaleAudit) =>
  Object.fromEntries(checkFlashSaleInvariants(audit).map((result) => [result.name, result.pass]));

describe("flash-sale invariants", () => {
  it("all pass for a sale that kept its promises", () => {
    const results = checkFlashSaleInvariants(healthy());
    expect(results).toHaveLength(9);
    expect(results.every((result) => result.pass)).toBe(true);
  });

  it("accepts replays (a 202 repeated with the same id) and ignores other SKUs' orders", () => {
    const audit = { ...healthy(), acceptedOrderIds: ["1", "2", "3", "2"], accepted202: 4 };
    audit.storedOrders = [...audit.storedOrders, order("99", "created", "OTHER")];
    expect(Object.values(verdicts(audit)).every(Boolean)).toBe(true);
  });

  it("fails when a buyer was told sold out while stock was left, or units sold without an accepted order", () => {
    // Two buyers told sold out, yet only 2 of 3 units sold.
    const undersold = { ...healthy(), acceptedOrderIds: ["1", "2"], accepted202: 2 };
    undersold.levels = { stock: 3, available: 1, reserved: 0, sold: 2 };
    undersold.storedOrders = [order("1"), order("2")];
    expect(verdicts(undersold)["sold = min(stock, allowed)"]).toBe(false);
    // Nobody told sold out, nothing left over: every accepted unit sold, and no more.
    const accept = { ...healthy(), stock: 5, soldOutAnswers: 0 };
    accept.levels = { stock: 5, available: 2, reserved: 0, sold: 3 };
    expect(verdicts(accept)["sold = min(stock, allowed)"]).toBe(true);
    accept.levels = { stock: 5, available: 1, reserved: 0, sold: 4 };
    expect(verdicts(accept)["sold = min(stock, allowed)"]).toBe(false);
  });

  it("fails when a 202 came without an orderId, and when live stock drifts from the database", () => {
    const verdict = verdicts({ ...healthy(), accepted202: 4, drift: ["FLASH-1"] });
    expect(verdict["every 202 carries an orderId"]).toBe(false);
    expect(verdict["live stock reconciles with the database"]).toBe(false);
    expect(verdicts({ ...healthy(), drift: null })["live stock reconciles with the database"]).toBe(false);
  });

  it("fails when an accepted order was never stored", () => {
    const audit = { ...healthy(), storedOrders: [order("1"), order("2")] };
    audit.levels = { stock: 3, available: 0, reserved: 0, sold: 2 };
    const results = checkFlashSaleInvariants(audit);
    const stored = results.find((result) => result.name.startsWith("every 202"))!;
    expect(stored.pass).toBe(false);
    expect(stored.detail).toContain("3");
  });

  it("fails when an id is stored twice", () => {
    const audit = { ...healthy(), storedOrders: [order("1"), order("2"), order("3"), order("3")] };
    const result = verdicts(audit);
    expect(result["no order id is stored twice"]).toBe(false);
    expect(result["every 202's orderId is stored exactly once"]).toBe(false);
  });

  it("fails on an oversell, and when the levels disagree with the stock opened", () => {
    expect(
      verdicts({ ...healthy(), levels: { stock: 3, available: 0, reserved: 0, sold: 4 } })["sold ≤ stock"],
    ).toBe(false);
    expect(
      verdicts({ ...healthy(), levels: { stock: 5, available: 2, reserved: 0, sold: 3 } })["sold ≤ stock"],
    ).toBe(false);
  });

  it("fails when inventory's sold and the stored live orders disagree; cancelled orders are not live", () => {
    const cancelled = { ...healthy(), storedOrders: [order("1"), order("2"), order("3", "cancelled")] };
    expect(verdicts(cancelled)["sold = stored live orders"]).toBe(false);
    const agreeing = { ...cancelled, levels: { stock: 3, available: 1, reserved: 0, sold: 2 } };
    expect(verdicts(agreeing)["sold = stored live orders"]).toBe(true);
  });

  it("fails when units appear or vanish, and when the backlog has not drained", () => {
    expect(
      verdicts({ ...healthy(), levels: { stock: 3, available: 1, reserved: 0, sold: 3 } })[
        "stock is conserved"
      ],
    ).toBe(false);
    const pending = verdicts({ ...healthy(), levels: { stock: 3, available: 0, reserved: 1, sold: 2 } });
    expect(pending["backlog drained"]).toBe(false);
    expect(pending["stock is conserved"]).toBe(true);
  });

  it("fails every level-based check when the sale could not be read", () => {
    const result = verdicts({ ...healthy(), levels: null });
    expect(result["sold ≤ stock"]).toBe(false);
    expect(result["sold = stored live orders"]).toBe(false);
    expect(result["stock is conserved"]).toBe(false);
    expect(result["backlog drained"]).toBe(false);
    expect(result["every 202's orderId is stored exactly once"]).toBe(true);
  });
});
