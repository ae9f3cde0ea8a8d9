import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSale, startTestServer, type TestServer } from "../support/test-server.js";

type ErrorBody = { error: { code: string; message: string } };

describe("bad input gets a clear 4xx with a stable code", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ bodyLimitBytes: "2048" });
    await openSale(server, { sku: "BAD-1", stock: 10, perUserLimit: 2 });
    await openSale(server, {
      sku: "LATER-1",
      stock: 10,
      perUserLimit: 2,
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      endsAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
  });
  afterAll(() => server?.close());

  const order = (options: Parameters<TestServer["request"]>[2]) =>
    server.request<ErrorBody>("POST", "/orders", { user: "u1", ...options });

  const cases: [string, () => Promise<{ status: number; body: ErrorBody }>, number, string][] = [
    [
      "malformed JSON",
      () =>
        order({ rawBody: '{"sku": "BAD-1", "quantity": ', headers: { "content-type": "application/json" } }),
      400,
      "invalid_json",
    ],
    [
      "empty JSON body",
      () => order({ rawBody: "", headers: { "content-type": "application/json" } }),
      400,
      "invalid_json",
    ],
    ["quantity as a string", () => order({ body: { sku: "BAD-1", quantity: "1" } }), 400, "invalid_request"],
    ["sku as a number", () => order({ body: { sku: 42, quantity: 1 } }), 400, "invalid_request"],
    ["a JSON array body", () => order({ body: [1, 2] }), 400, "invalid_request"],
    ["missing quantity", () => order({ body: { sku: "BAD-1" } }), 400, "invalid_request"],
    ["missing sku", () => order({ body: { quantity: 1 } }), 400, "invalid_request"],
    [
      "an unexpected field",
      () => order({ body: { sku: "BAD-1", quantity: 1, price: 0 } }),
      400,
      "invalid_request",
    ],
    ["quantity 0", () => order({ body: { sku: "BAD-1", quantity: 0 } }), 400, "invalid_request"],
    ["negative quantity", () => order({ body: { sku: "BAD-1", quantity: -3 } }), 400, "invalid_request"],
    ["fractional quantity", () => order({ body: { sku: "BAD-1", quantity: 1.5 } }), 400, "invalid_request"],
    [
      "SQL in the sku",
      () => order({ body: { sku: "x'; DROP TABLE orders.orders;--", quantity: 1 } }),
      400,
      "invalid_request",
    ],
    ["unknown SKU", () => order({ body: { sku: "NO-SUCH-SKU", quantity: 1 } }), 404, "unknown_sku"],
    [
      "quantity above the per-user limit",
      () => order({ body: { sku: "BAD-1", quantity: 3 } }),
      409,
      "limit_exceeded",
    ],
    [
      "a sale that has not started",
      () => order({ body: { sku: "LATER-1", quantity: 1 } }),
      403,
      "sale_not_open",
    ],
    [
      "an oversized body",
      () =>
        order({
          rawBody: JSON.stringify({ sku: "BAD-1", quantity: 1, pad: "x".repeat(5000) }),
          headers: { "content-type": "application/json" },
        }),
      413,
      "payload_too_large",
    ],
    [
      "a non-JSON content type",
      () => order({ rawBody: "sku=BAD-1", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    ],
    [
      "an Idempotency-Key that is too long",
      () => order({ body: { sku: "BAD-1", quantity: 1 }, headers: { "idempotency-key": "k".repeat(200) } }),
      400,
      "invalid_request",
    ],
    [
      "no bearer token",
      () => server.request("POST", "/orders", { body: { sku: "BAD-1", quantity: 1 } }),
      401,
      "unauthorized",
    ],
    [
      "a forged bearer token",
      () =>
        server.request("POST", "/orders", {
          body: { sku: "BAD-1", quantity: 1 },
          headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" },
        }),
      401,
      "unauthorized",
    ],
    ["an unknown route", () => server.request("GET", "/no/such/route"), 404, "route_not_found"],
    [
      "a malformed order id",
      () => server.request("GET", "/orders/not-an-id", { user: "u1" }),
      404,
      "order_not_found",
    ],
    [
      "an order id that does not exist",
      () => server.request("GET", "/orders/123456789012345", { user: "u1" }),
      404,
      "order_not_found",
    ],
    ["a malformed product id", () => server.request("GET", "/products/abc"), 404, "product_not_found"],
    ["a malformed cursor", () => server.request("GET", "/products?cursor=%%%"), 400, "invalid_cursor"],
    ["limit 0", () => server.request("GET", "/products?limit=0"), 400, "invalid_request"],
    ["limit above 100", () => server.request("GET", "/products?limit=5000"), 400, "invalid_request"],
    ["an unknown query parameter", () => server.request("GET", "/products?limt=5"), 400, "invalid_request"],
    [
      "an admin route with a user token",
      () =>
        server.request("POST", "/admin/products", {
          user: "u1",
          body: { sku: "X-1", name: "x", priceCents: 1, currency: "EUR" },
        }),
      403,
      "forbidden",
    ],
    [
      "a product with a negative price",
      () =>
        server.request("POST", "/admin/products", {
          user: "a",
          admin: true,
          body: { sku: "X-1", name: "x", priceCents: -1, currency: "EUR" },
        }),
      400,
      "invalid_request",
    ],
    [
      "a duplicate SKU",
      () =>
        server.request("POST", "/admin/products", {
          user: "a",
          admin: true,
          body: { sku: "BAD-1", name: "x", priceCents: 1, currency: "EUR" },
        }),
      409,
      "sku_taken",
    ],
    [
      "a sale for an unknown SKU",
      () =>
        server.request("POST", "/admin/sales", {
          user: "a",
          admin: true,
          body: {
            sku: "NOPE-1",
            stock: 1,
            perUserLimit: 1,
            startsAt: "2026-01-01T00:00:00Z",
            endsAt: "2027-01-01T00:00:00Z",
          },
        }),
      404,
      "unknown_sku",
    ],
    [
      "a sale that ends before it starts",
      () =>
        server.request("POST", "/admin/sales", {
          user: "a",
          admin: true,
          body: {
            sku: "BAD-1",
            stock: 1,
            perUserLimit: 1,
            startsAt: "2027-01-01T00:00:00Z",
            endsAt: "2026-01-01T00:00:00Z",
          },
        }),
      422,
      "invalid_sale_window",
    ],
    [
      "a sale date that is not a date",
      () =>
        server.request("POST", "/admin/sales", {
          user: "a",
          admin: true,
          body: { sku: "BAD-1", stock: 1, perUserLimit: 1, startsAt: "soon", endsAt: "2027-01-01T00:00:00Z" },
        }),
      400,
      "invalid_request",
    ],
    [
      "a second sale for the same SKU",
      () =>
        server.request("POST", "/admin/sales", {
          user: "a",
          admin: true,
          body: {
            sku: "BAD-1",
            stock: 1,
            perUserLimit: 1,
            startsAt: "2026-01-01T00:00:00Z",
            endsAt: "2027-01-01T00:00:00Z",
          },
        }),
      409,
      "sale_exists",
    ],
    [
      "a sale that does not exist",
      () => server.request("GET", "/admin/sales/NOPE-1", { user: "a", admin: true }),
      404,
      "sale_not_found",
    ],
    [
      "an internal route with a user token",
      () => server.request("POST", "/internal/inventory/release", { user: "u1", body: { orderIds: [] } }),
      403,
      "forbidden",
    ],
  ];

  it.each(cases)("%s", async (_name, send, status, code) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(typeof response.body.error.message).toBe("string");
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/); // no stack traces
  });

  it("is still healthy and has sold nothing after all of that", async () => {
    expect((await server.request("GET", "/healthz")).status).toBe(200);
    expect((await server.request("GET", "/readyz")).status).toBe(200);
    const sale = await server.request<{ levels: { available: number } }>("GET", "/admin/sales/BAD-1", {
      user: "a",
      admin: true,
    });
    expect(sale.body.levels.available).toBe(10);
  });
});
