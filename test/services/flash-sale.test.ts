import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, openSale, startTestServer, type TestServer } from "../support/test-server.js";

interface Levels {
  stock: number;
  available: number;
  reserved: number;
  sold: number;
}

interface OrderView {
  id: string;
  userId: string;
  status: string;
  quantity: number;
}

/** Every stored order, all pages of GET /admin/orders. */
async function allStoredOrders(server: TestServer): Promise<OrderView[]> {
  const orders: OrderView[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${cursor}` : "";
    const page = await server.request<{ items: OrderView[]; nextCursor: string | null }>(
      "GET",
      `/admin/orders?limit=100${query}`,
      { user: "admin", admin: true },
    );
    expect(page.status).toBe(200);
    orders.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return orders;
}

describe("embedded flash sale", () => {
  let server: TestServer;
  const STOCK = 100;
  const BUYERS = 5000;

  beforeAll(async () => {
    server = await startTestServer();
    await openSale(server, { sku: "BURST-1", stock: STOCK, perUserLimit: 1 });
  });
  afterAll(() => server?.close());

  it(`sells exactly ${STOCK} units to ${BUYERS} concurrent buyers, stores every accepted order once`, async () => {
    const responses = await Promise.all(
      Array.from({ length: BUYERS }, (_, i) =>
        server.request<{ orderId?: string; status?: string; error?: { code: string } }>("POST", "/orders", {
          user: `buyer-${i}`,
          headers: { "idempotency-key": `burst-${i}` },
          body: { sku: "BURST-1", quantity: 1 },
        }),
      ),
    );
    const accepted = responses.filter((r) => r.status === 202);
    const refused = responses.filter((r) => r.status !== 202);
    expect(accepted).toHaveLength(STOCK);
    for (const r of accepted)
      expect(r.body).toMatchObject({ status: "pending", orderId: expect.any(String) });
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.body.error?.code).toBe("sold_out");
    }

    // Peak shaving: the worker stores in the background; wait for the queue to drain.
    const levels = async () =>
      (
        await server.request<{ levels: Levels }>("GET", "/admin/sales/BURST-1", {
          user: "admin",
          admin: true,
        })
      ).body.levels;
    await eventually(async () => (await levels()).sold === STOCK, 30_000, "all orders stored");
    expect(await levels()).toEqual({ sku: "BURST-1", stock: STOCK, available: 0, reserved: 0, sold: STOCK });

    const stored = await allStoredOrders(server);
    expect(stored).toHaveLength(STOCK);
    const acceptedIds = accepted.map((r) => r.body.orderId!).sort();
    expect(stored.map((o) => o.id).sort()).toEqual(acceptedIds);
    expect(new Set(stored.map((o) => o.userId)).size).toBe(STOCK);
    expect(stored.every((o) => o.status === "created" && o.quantity === 1)).toBe(true);

    // Each buyer sees their own order by id.
    const first = accepted[0]!;
    const owner = stored.find((o) => o.id === first.body.orderId)!.userId;
    const mine = await server.request<OrderView>("GET", `/orders/${first.body.orderId}`, { user: owner });
    expect(mine.status).toBe(200);
    expect(mine.body.status).toBe("created");
    const someoneElse = await server.request("GET", `/orders/${first.body.orderId}`, { user: "nosy" });
    expect(someoneElse.status).toBe(404);
  });

  it("answers a replayed Idempotency-Key with the first answer and makes no second order", async () => {
    await openSale(server, { sku: "REPLAY-1", stock: 10, perUserLimit: 5 });
    const send = () =>
      server.request<{ orderId: string; status: string }>("POST", "/orders", {
        user: "replayer",
        headers: { "idempotency-key": "same-key" },
        body: { sku: "REPLAY-1", quantity: 2 },
      });
    const [a, b] = await Promise.all([send(), send()]);
    const c = await send();
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    expect(b.body).toEqual(a.body);
    expect(c.body).toEqual(a.body);

    const different = await server.request<{ error: { code: string } }>("POST", "/orders", {
      user: "replayer",
      headers: { "idempotency-key": "same-key" },
      body: { sku: "REPLAY-1", quantity: 1 },
    });
    expect(different.status).toBe(422);
    expect(different.body.error.code).toBe("idempotency_key_reused");

    await eventually(
      async () =>
        (await server.request<OrderView>("GET", `/orders/${a.body.orderId}`, { user: "replayer" })).body
          .status === "created",
      10_000,
      "the replayed order to be stored",
    );
    const mine = await server.request<{ items: OrderView[] }>("GET", "/me/orders", { user: "replayer" });
    expect(mine.body.items.map((o) => o.id)).toEqual([a.body.orderId]);
    const sale = await server.request<{ levels: Levels }>("GET", "/admin/sales/REPLAY-1", {
      user: "admin",
      admin: true,
    });
    expect(sale.body.levels).toMatchObject({ available: 8, sold: 2 });
  });

  it("answers the replay of a stored order from the record, at the buyer's limit and after a sell-out", async () => {
    // Stored orders' reservations have left the book (docs/architecture.md, "a sale's history is
    // not kept live"): their keys are answered from inventory.reservations.
    await openSale(server, { sku: "SETTLED-1", stock: 2, perUserLimit: 2 });
    const send = (quantity = 2, key = "settled-key") =>
      server.request<{ orderId?: string; error?: { code: string } }>("POST", "/orders", {
        user: "settler",
        headers: { "idempotency-key": key },
        body: { sku: "SETTLED-1", quantity },
      });
    const first = await send();
    expect(first.status).toBe(202);
    const orderId = first.body.orderId!;
    const levels = async () =>
      (
        await server.request<{ levels: Levels }>("GET", "/admin/sales/SETTLED-1", {
          user: "admin",
          admin: true,
        })
      ).body.levels;
    await eventually(async () => (await levels()).sold === 2, 10_000, "the reservation to be confirmed");
    // Sold out, the buyer at the limit, the reservation settled: the replay still gets its order.
    for (let i = 0; i < 3; i++) {
      const replay = await send();
      expect(replay.status).toBe(202);
      expect(replay.body.orderId).toBe(orderId);
    }
    expect((await send(1)).body.error?.code).toBe("idempotency_key_reused");
    const fresh = await send(1, "another-key");
    expect(fresh.status).toBe(409);
    expect(["sold_out", "limit_exceeded"]).toContain(fresh.body.error?.code);
    const mine = await server.request<{ items: OrderView[] }>("GET", "/me/orders", { user: "settler" });
    expect(mine.body.items.map((o) => o.id)).toEqual([orderId]);
    expect(await levels()).toMatchObject({ available: 0, reserved: 0, sold: 2 });
  });

  it("enforces the per-user limit across orders", async () => {
    await openSale(server, { sku: "LIMIT-1", stock: 50, perUserLimit: 3 });
    const order = (quantity: number, key: string) =>
      server.request<{ error?: { code: string } }>("POST", "/orders", {
        user: "limited",
        headers: { "idempotency-key": key },
        body: { sku: "LIMIT-1", quantity },
      });
    expect((await order(2, "l1")).status).toBe(202);
    const over = await order(2, "l2");
    expect(over.status).toBe(409);
    expect(over.body.error?.code).toBe("limit_exceeded");
    expect((await order(1, "l3")).status).toBe(202);
  });
});
