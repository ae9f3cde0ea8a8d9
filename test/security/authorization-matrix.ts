/**
 * The authorization matrix: every route a Floodgate process registers, on its public listener and
 * on its internal one (FLOODGATE_INTERNAL_PORT), with the status each of eight credentials gets.
 * authorization-matrix.test.ts runs every cell against one real process and fails when a route is
 * registered without a row here, or a row names a route that is not registered. The documented
 * rules are in docs/operations.md ("Who may call what").
 *
 * Decisions the table records:
 * - A bad token (expired, forged with the server's `kid`, `alg: none`) is 401 wherever a token is
 *   needed. On routes open to anyone the service ignores the Authorization header (the gateway,
 *   which verifies every token it is shown, answers those 401 before any service sees them).
 * - Someone else's order is 404, never 403: order ids must not reveal that an order exists. An
 *   admin reads any order, but pays none (only its buyer opens a payment: 404 for the others).
 * - A service token is for `/internal/*` only: every public route refuses it (403), even one any
 *   signed-in user may call, so a leaked service token cannot buy, read orders or act as an admin.
 * - `/internal/*` takes only a service token (an admin's is 403) and only on the internal
 *   listener: the public port answers 404 to every credential.
 * - The webhook is authenticated by the provider's signature over the body, not by a bearer
 *   token: unsigned, it is 400 whoever sends it.
 * - Health, readiness, /metrics and the dashboard are each process's own, open to anyone on its
 *   port; the gateway never routes them (test/gateway/public-routes-coverage.test.ts), so
 *   deployments keep process ports off the internet.
 * - Request bodies are validated before the token is checked (Fastify's schema runs before the
 *   handler), so a malformed body is 400 even without a token: every row sends a valid body.
 * - Where a fixture cannot reach success without a payment provider's settlement (a refund needs
 *   a paid order; an email is sent once an order is paid), the admin's answer is the route's own
 *   business refusal (409, 404), which shows the request passed the authorization gate.
 */

export const CREDENTIALS = [
  "none",
  "expired",
  "forged",
  "algNone",
  "service",
  "otherUser",
  "admin",
  // Last: a row's success cases are the owner's (a payment is opened once, by its buyer).
  "user",
] as const;
export type Credential = (typeof CREDENTIALS)[number];
export type Expected = Readonly<Record<Credential, number>>;

/** The users the fixtures belong to: `user` owns every order; `otherUser` owns nothing. */
export const OWNER = "matrix-alice";
export const OTHER_USER = "matrix-bob";
export const ADMIN = "matrix-admin";

/** What beforeAll creates through the API, for rows whose paths need real ids. */
export interface Fixtures {
  /** A product with an open sale. */
  readonly sku: string;
  readonly productId: string;
  /** A product without a sale: the admin opens one. */
  readonly unsoldSku: string;
  /** A sale the admin changes. */
  readonly changedSku: string;
  /** A SKU no product has yet: the admin creates it. */
  readonly newSku: string;
  /** The owner's order, stored (`created`) and never paid. */
  readonly orderId: string;
  /** The owner's order, stored (`created`): the owner opens its payment. */
  readonly payableOrderId: string;
  /** A file of the built dashboard. */
  readonly dashboardAsset: string;
}

export interface MatrixRequest {
  readonly path: string;
  readonly body?: unknown;
}

export interface MatrixRow {
  readonly listener: "public" | "internal";
  readonly method: string;
  /** As Fastify registers it (`:param`). A GET row also covers its HEAD route (same statuses). */
  readonly route: string;
  readonly access: "anyone" | "user" | "owner" | "admin" | "service";
  readonly request: (fixtures: Fixtures) => MatrixRequest;
  readonly expect: Expected;
  /** Why the HEAD route of this GET row is not called (the row still covers it). */
  readonly headNotCalled?: string;
}

/** An id-shaped path segment that names nothing. */
const NO_SUCH_ID = "1234567890";

const BAD_TOKENS = { none: 401, expired: 401, forged: 401, algNone: 401 } as const;

const anyone = (status: number): Pick<MatrixRow, "access" | "expect"> => ({
  access: "anyone",
  expect: {
    none: status,
    expired: status,
    forged: status,
    algNone: status,
    service: status,
    otherUser: status,
    admin: status,
    user: status,
  },
});

/** Any signed-in user (admins too); no resource of someone else's. */
const user = (status: number): Pick<MatrixRow, "access" | "expect"> => ({
  access: "user",
  expect: { ...BAD_TOKENS, service: 403, otherUser: status, admin: status, user: status },
});

/** The owner's resource: others get 404 (existence is not revealed); admins as given. */
const owner = (status: number, admin: number): Pick<MatrixRow, "access" | "expect"> => ({
  access: "owner",
  expect: { ...BAD_TOKENS, service: 403, otherUser: 404, admin, user: status },
});

const admin = (status: number): Pick<MatrixRow, "access" | "expect"> => ({
  access: "admin",
  expect: { ...BAD_TOKENS, service: 403, otherUser: 403, admin: status, user: 403 },
});

const service = (status: number): Pick<MatrixRow, "access" | "expect"> => ({
  access: "service",
  expect: { ...BAD_TOKENS, service: status, otherUser: 403, admin: 403, user: 403 },
});

const at = (path: string, body?: unknown) => () => (body === undefined ? { path } : { path, body });

const publicRow = (
  method: string,
  route: string,
  rule: Pick<MatrixRow, "access" | "expect">,
  request: (fixtures: Fixtures) => MatrixRequest = at(route),
): MatrixRow => ({ listener: "public", method, route, request, ...rule });

const internalRow = (
  service: string,
  operation: string,
  body: (fixtures: Fixtures) => unknown,
  status = 200,
): MatrixRow => ({
  listener: "internal",
  method: "POST",
  route: `/internal/${service}/${operation}`,
  request: (fixtures) => ({ path: `/internal/${service}/${operation}`, body: body(fixtures) }),
  ...serviceRule(status),
});
const serviceRule = service;

const PROCESS_ROUTES = (listener: "public" | "internal"): MatrixRow[] =>
  ["/healthz", "/readyz", "/metrics"].map((route) => ({
    listener,
    method: "GET",
    route,
    request: at(route),
    ...anyone(200),
  }));

export const AUTHORIZATION_MATRIX: readonly MatrixRow[] = [
  ...PROCESS_ROUTES("public"),
  publicRow("GET", "/dashboard", anyone(200)),
  publicRow("GET", "/dashboard/", anyone(200)),
  publicRow("GET", "/dashboard/series", anyone(200)),
  {
    ...publicRow("GET", "/dashboard/events", anyone(200)),
    headNotCalled: "an event stream's HEAD never sends its head (Node holds it for a body HEAD has none of)",
  },
  publicRow("GET", "/dashboard/assets/:file", anyone(200), (f) => ({
    path: `/dashboard/assets/${f.dashboardAsset}`,
  })),

  publicRow("GET", "/products", anyone(200)),
  publicRow("GET", "/products/:id", anyone(200), (f) => ({ path: `/products/${f.productId}` })),
  publicRow("POST", "/webhooks/payments", anyone(400), at("/webhooks/payments", { id: "evt_unsigned" })),

  publicRow("POST", "/orders", user(202), (f) => ({ path: "/orders", body: { sku: f.sku, quantity: 1 } })),
  publicRow("GET", "/me/orders", user(200)),
  publicRow("GET", "/me/points", user(200)),
  publicRow("GET", "/orders/:id", owner(200, 200), (f) => ({ path: `/orders/${f.orderId}` })),
  publicRow("POST", "/orders/:id/payment", owner(201, 404), (f) => ({
    path: `/orders/${f.payableOrderId}/payment`,
  })),

  publicRow("POST", "/admin/products", admin(201), (f) => ({
    path: "/admin/products",
    body: { sku: f.newSku, name: "Matrix", priceCents: 100, currency: "EUR" },
  })),
  publicRow("PUT", "/admin/products/:id", admin(200), (f) => ({
    path: `/admin/products/${f.productId}`,
    body: { name: "Matrix, renamed", priceCents: 100, currency: "EUR" },
  })),
  publicRow("POST", "/admin/cache/warm", admin(200), at("/admin/cache/warm", { top: 10 })),
  publicRow("POST", "/admin/sales", admin(201), (f) => ({
    path: "/admin/sales",
    body: {
      sku: f.unsoldSku,
      stock: 10,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
  })),
  publicRow("GET", "/admin/sales/:sku", admin(200), (f) => ({ path: `/admin/sales/${f.sku}` })),
  publicRow("PATCH", "/admin/sales/:sku", admin(200), (f) => ({
    path: `/admin/sales/${f.changedSku}`,
    body: { stock: 20 },
  })),
  publicRow("GET", "/admin/stock/reconciliation", admin(200)),
  publicRow("GET", "/admin/orders", admin(200)),
  publicRow("POST", "/admin/orders/:id/refund", admin(409), (f) => ({
    path: `/admin/orders/${f.orderId}/refund`,
  })),
  publicRow("GET", "/admin/payments", admin(200)),
  publicRow("GET", "/admin/queue/stats", admin(200)),
  publicRow("GET", "/admin/dlq", admin(200)),
  publicRow("POST", "/admin/dlq/replay", admin(200), at("/admin/dlq/replay", { all: true })),
  publicRow("GET", "/admin/mail", admin(200)),
  publicRow("GET", "/admin/mail/:id", admin(404), at(`/admin/mail/${NO_SUCH_ID}`)),
  publicRow("GET", "/admin/mail/:id/raw", admin(404), at(`/admin/mail/${NO_SUCH_ID}/raw`)),
  publicRow("GET", "/admin/diagnostics/memory", admin(200)),

  ...PROCESS_ROUTES("internal"),
  // Bodies that touch nothing the public rows use: unknown SKUs and order ids, or the SKU the
  // admin created above (a product without a sale), whose stock the service then defines.
  internalRow("catalog", "productBySku", () => ({ sku: "NO-SUCH-SKU" })),
  internalRow("catalog", "productById", () => ({ id: NO_SUCH_ID })),
  internalRow("sales", "saleBySku", () => ({ sku: "NO-SUCH-SKU" })),
  internalRow("orders", "backlog", () => ({})),
  internalRow("orders", "orderForPayment", () => ({ orderId: NO_SUCH_ID })),
  internalRow("inventory", "levels", () => ({ sku: "NO-SUCH-SKU" })),
  internalRow("inventory", "reservation", () => ({ orderId: NO_SUCH_ID })),
  internalRow("inventory", "reconcile", () => ({})),
  internalRow("inventory", "defineStock", (f) => ({
    sku: f.newSku,
    stock: 5,
    perUserLimit: 1,
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  })),
  // sale_not_found: the service got through, the SKU has no sale.
  internalRow("inventory", "changeSale", () => ({ sku: "NO-SUCH-SKU", stock: 1 }), 404),
  internalRow("inventory", "reserve", () => ({
    orderId: NO_SUCH_ID,
    sku: "NO-SUCH-SKU",
    userId: OWNER,
    quantity: 1,
    idempotencyKey: "matrix",
  })),
  internalRow("inventory", "settle", () => ({ orderId: NO_SUCH_ID, sku: "NO-SUCH-SKU", decision: "reject" })),
  internalRow("inventory", "release", () => ({ reservations: [], reason: "expired" })),
  internalRow("inventory", "confirm", () => ({ reservations: [] })),
];

/** `METHOD /route` on a listener: how rows and registered routes are compared. */
export const routeKey = (listener: string, method: string, route: string): string =>
  `${listener} ${method} ${route}`;
