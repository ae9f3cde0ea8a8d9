import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, openSale, startTestServer, type TestServer } from "../../support/test-server.js";

interface OrderView {
  status: string;
  history: { status: string; cause?: string }[];
}

describe("an order unpaid at its deadline", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ paymentTimeoutSeconds: "5" });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("is cancelled, and its stock goes back on sale and is bought by someone else", async () => {
    await openSale(server, { sku: "DEADLINE-1", stock: 1, perUserLimit: 1 });
    const first = await server.request<{ orderId: string }>("POST", "/orders", {
      user: "slow",
      body: { sku: "DEADLINE-1", quantity: 1 },
    });
    expect(first.status).toBe(202);
    const orderId = first.body.orderId;
    const order = () => server.request<OrderView>("GET", `/orders/${orderId}`, { user: "slow" });
    await eventually(async () => (await order()).body.status === "created", 20_000, "the order stored");
    expect(
      (
        await server.request<{ error: { code: string } }>("POST", "/orders", {
          user: "next",
          body: { sku: "DEADLINE-1", quantity: 1 },
        })
      ).body.error.code,
    ).toBe("sold_out");

    await eventually(async () => (await order()).body.status === "cancelled", 30_000, "the order cancelled");
    expect((await order()).body.history.map((entry) => [entry.status, entry.cause])).toEqual([
      ["pending", "accepted"],
      ["created", "stored"],
      ["cancelled", "payment_timeout"],
    ]);
    await eventually(
      async () =>
        (await server.request("POST", "/orders", { user: "next", body: { sku: "DEADLINE-1", quantity: 1 } }))
          .status === 202,
      20_000,
      "the unit back on sale, and bought",
    );
    const listed = await server.request<{ items: { id: string }[] }>(
      "GET",
      "/admin/orders?status=cancelled",
      {
        user: "ops",
        admin: true,
      },
    );
    expect(listed.body.items.map((o) => o.id)).toContain(orderId);
  }, 120_000);
});
