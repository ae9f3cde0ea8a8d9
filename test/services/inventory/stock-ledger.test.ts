import { describe, expect, it } from "vitest";
import { StockLedger } from "../../../src/services/inventory/stock-ledger.js";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const TTL = 60_000;

function ledgerWithSale(stock = 10, perUserLimit = 2): StockLedger {
  const ledger = new StockLedger();
  ledger.defineSale({
    sku: "S",
    stock,
    perUserLimit,
    startsAt: "2026-06-01T00:00:00Z",
    endsAt: "2026-06-02T00:00:00Z",
  });
  return ledger;
}

const request = (orderId: string, userId: string, quantity = 1, key = orderId) => ({
  orderId,
  sku: "S",
  userId,
  quantity,
  idempotencyKey: key,
});

describe("stock ledger", () => {
  it("never sells more than the stock, whatever the order of requests", () => {
    const ledger = ledgerWithSale(7, 3);
    let sold = 0;
    for (let i = 0; i < 100; i++) {
      const decision = ledger.reserve(request(`o${i}`, `u${i % 13}`, 1 + (i % 3)), NOW, TTL);
      if (decision.kind === "reserved") sold += decision.reservation.quantity;
    }
    expect(sold).toBe(7); // every unit sold: 100 requests for at most 3 each
    expect(ledger.levels("S")).toEqual({ sku: "S", stock: 7, available: 7 - sold, reserved: sold, sold: 0 });
  });

  it("checks the idempotency key before stock and limits: a replay never takes stock twice", () => {
    const ledger = ledgerWithSale(1, 1);
    expect(ledger.reserve(request("o1", "u", 1, "k"), NOW, TTL).kind).toBe("reserved");
    const replay = ledger.reserve(request("o2", "u", 1, "k"), NOW, TTL);
    expect(replay).toMatchObject({ kind: "duplicate", reservation: { orderId: "o1" } });
    expect(ledger.levels("S")?.available).toBe(0);
  });

  it("refuses outside the window, over the user's limit, and past the stock", () => {
    const ledger = ledgerWithSale(3, 2);
    expect(ledger.reserve(request("a", "u"), Date.parse("2026-05-31T23:59:59Z"), TTL)).toMatchObject({
      reason: "sale_not_open",
    });
    expect(ledger.reserve(request("b", "u"), Date.parse("2026-06-02T00:00:00Z"), TTL)).toMatchObject({
      reason: "sale_not_open",
    });
    expect(ledger.reserve(request("c", "u", 3), NOW, TTL)).toMatchObject({ reason: "limit_exceeded" });
    expect(ledger.reserve(request("d", "u", 2), NOW, TTL).kind).toBe("reserved");
    expect(ledger.reserve(request("e", "u", 1), NOW, TTL)).toMatchObject({ reason: "limit_exceeded" });
    expect(ledger.reserve(request("f", "v", 2), NOW, TTL)).toMatchObject({
      reason: "sold_out",
      available: 1,
    });
    expect(ledger.reserve(request("g", "x", 1, "g"), NOW, TTL).kind).toBe("reserved");
    expect(ledger.reserve(request("h", "y", 1), NOW, TTL)).toMatchObject({
      reason: "sold_out",
      available: 0,
    });
    expect(ledger.reserve({ ...request("i", "z"), sku: "OTHER" }, NOW, TTL)).toMatchObject({
      reason: "no_sale",
    });
  });

  it("aborting a release keeps the reservation live", () => {
    const ledger = ledgerWithSale(1, 1);
    ledger.reserve(request("o1", "u1"), NOW, TTL);
    ledger.beginRelease("o1");
    ledger.abortRelease("o1");
    expect(ledger.levels("S")).toMatchObject({ available: 0, reserved: 1 });
    expect(ledger.confirm("o1")).toBe(true);
  });

  it("confirms, releases and expires, returning stock and the user's allowance", () => {
    const ledger = ledgerWithSale(2, 1);
    ledger.reserve(request("o1", "u1"), NOW, TTL);
    ledger.reserve(request("o2", "u2"), NOW, TTL);
    expect(ledger.confirm("o1")).toBe(true);
    expect(ledger.confirm("o1")).toBe(true); // idempotent
    expect(ledger.levels("S")).toMatchObject({ available: 0, reserved: 1, sold: 1 });
    expect(ledger.expired(NOW + TTL).map((r) => r.orderId)).toEqual(["o2"]);
    expect(ledger.beginRelease("o2")?.orderId).toBe("o2");
    expect(ledger.confirm("o2")).toBe(false); // a reservation being released cannot become a sale
    expect(ledger.levels("S")).toMatchObject({ available: 0, reserved: 1 }); // held until durable
    ledger.finishRelease("o2");
    expect(ledger.beginRelease("o2")).toBeUndefined();
    expect(ledger.beginRelease("o1")).toBeUndefined(); // a confirmed sale is not released by expiry
    expect(ledger.levels("S")).toMatchObject({ available: 1, reserved: 0, sold: 1 });
    expect(ledger.reserve(request("o3", "u2"), NOW, TTL).kind).toBe("reserved");
  });
});
