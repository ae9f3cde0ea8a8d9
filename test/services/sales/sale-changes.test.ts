import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

interface Answer {
  orderId?: string;
  error?: { code: string };
}

describe("changing and ending a running sale", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const buy = (user: string, sku: string) =>
    server.request<Answer>("POST", "/orders", { user, body: { sku, quantity: 1 } });
  const patch = (sku: string, body: unknown, user = "ops") =>
    server.request<{
      levels?: { available: number; sold: number; reserved: number };
      error?: { code: string };
    }>("PATCH", `/admin/sales/${sku}`, { user, admin: user === "ops", body });
  const sold = async (sku: string) =>
    (
      await server.request<{ levels: { sold: number } }>("GET", `/admin/sales/${sku}`, {
        user: "ops",
        admin: true,
      })
    ).body.levels.sold;

  it("raises stock during a burst: the new units sell, every intake learns at once, never more than the stock", async () => {
    await openSale(server, { sku: "CHG-1", stock: 10, perUserLimit: 1 });
    const first = Promise.all(Array.from({ length: 40 }, (_, i) => buy(`a-${i}`, "CHG-1")));
    const raised = await patch("CHG-1", { stock: 25 });
    expect(raised.status).toBe(200);
    const answers = [
      ...(await first),
      ...(await Promise.all(Array.from({ length: 40 }, (_, i) => buy(`b-${i}`, "CHG-1")))),
    ];
    expect(answers.filter((r) => r.status === 202)).toHaveLength(25);
    expect(answers.filter((r) => r.status !== 202).every((r) => r.body.error?.code === "sold_out")).toBe(
      true,
    );
    // Sold out now (the flag is up): another 5 units are on sale the moment the change answers.
    expect((await buy("c-0", "CHG-1")).body.error?.code).toBe("sold_out");
    expect((await patch("CHG-1", { stock: 30 })).status).toBe(200);
    const next = await Promise.all(Array.from({ length: 8 }, (_, i) => buy(`d-${i}`, "CHG-1")));
    expect(next.filter((r) => r.status === 202)).toHaveLength(5);
    await eventually(async () => (await sold("CHG-1")) === 30, 30_000, "every order stored");
  });

  it("never lowers stock below what is sold or reserved; down to it, the sale is sold out", async () => {
    await openSale(server, { sku: "CHG-2", stock: 10, perUserLimit: 1 });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => buy(`e-${i}`, "CHG-2")));
    expect(answers.filter((r) => r.status === 202)).toHaveLength(6);
    const refused = await patch("CHG-2", { stock: 5 });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe("stock_below_held");
    const lowered = await patch("CHG-2", { stock: 6 });
    expect(lowered.status).toBe(200);
    expect(lowered.body.levels).toMatchObject({ available: 0 });
    expect((await buy("e-9", "CHG-2")).body.error?.code).toBe("sold_out");
  });

  it("ends a sale at once, and records every change with its time and admin", async () => {
    await openSale(server, { sku: "CHG-3", stock: 100, perUserLimit: 1 });
    expect((await buy("f-0", "CHG-3")).status).toBe(202);
    const before = Date.now();
    const ended = await patch("CHG-3", { endsAt: new Date().toISOString() });
    expect(ended.status).toBe(200);
    const late = await Promise.all(Array.from({ length: 10 }, (_, i) => buy(`g-${i}`, "CHG-3")));
    expect(late.map((r) => r.body.error?.code)).toEqual(Array(10).fill("sale_not_open"));
    const sale = await server.request<{
      endsAt: string;
      changes: { changedBy: string; changedAt: string; endsAt: { after: string } }[];
    }>("GET", "/admin/sales/CHG-3", { user: "ops", admin: true });
    expect(sale.body.changes).toHaveLength(1);
    expect(sale.body.changes[0]).toMatchObject({ changedBy: "ops", endsAt: { after: sale.body.endsAt } });
    expect(Date.parse(sale.body.changes[0]!.changedAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("refuses bad changes with a clear 4xx", async () => {
    await openSale(server, { sku: "CHG-4", stock: 5, perUserLimit: 1 });
    expect((await patch("CHG-4", {})).body.error?.code).toBe("invalid_request");
    expect((await patch("CHG-4", { stock: -1 })).body.error?.code).toBe("invalid_request");
    expect((await patch("CHG-4", { perUserLimit: 3 })).body.error?.code).toBe("invalid_request");
    expect((await patch("CHG-4", { endsAt: "tomorrow" })).body.error?.code).toBe("invalid_request");
    expect((await patch("CHG-4", { endsAt: "2001-01-01T00:00:00Z" })).body.error?.code).toBe(
      "invalid_sale_window",
    );
    expect((await patch("NO-SUCH-SALE", { stock: 1 })).status).toBe(404);
    const notAdmin = await patch("CHG-4", { stock: 1 }, "someone");
    expect(notAdmin.status).toBe(403);
    expect(
      (await server.request("GET", "/admin/sales/CHG-4", { user: "ops", admin: true })).body,
    ).toMatchObject({
      stock: 5,
      changes: [],
    });
  });
});
