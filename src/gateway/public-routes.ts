/**
 * The public API as the gateway routes it: which service answers each path, and who may call it.
 * Anything not listed here is answered 404 by the gateway itself and never reaches a service, which
 * is what keeps `/internal/*` (service-to-service operations) off the public side, whatever
 * spelling a client tries: the patterns accept only plain path segments (no `%`, no `.` or `..`).
 */
export type Access = "anyone" | "user" | "admin";

export interface PublicRoute {
  /** For span names and metrics: the route as the API documents it. */
  readonly name: string;
  readonly service: string;
  readonly methods: readonly string[];
  readonly access: Access;
  readonly pattern: RegExp;
}

/** One path segment: an id, a SKU, a word. Never empty, never `.` or `..`, never percent-encoded. */
const SEGMENT = "[A-Za-z0-9_~-][A-Za-z0-9_.~-]*";

function route(name: string, service: string, methods: readonly string[], access: Access): PublicRoute {
  const source = name.replace(/:[a-z]+/gi, SEGMENT);
  return { name, service, methods, access, pattern: new RegExp(`^${source}$`) };
}

const READ = ["GET", "HEAD"];

export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  route("/products", "catalog", READ, "anyone"),
  route("/products/:id", "catalog", READ, "anyone"),
  route("/orders", "orders", ["POST"], "user"),
  route("/orders/:id", "orders", READ, "user"),
  route("/orders/:id/payment", "payments", ["POST"], "user"),
  route("/me/orders", "orders", READ, "user"),
  route("/me/points", "loyalty", READ, "user"),
  // Signed by the payment provider (HMAC), not by a user's token.
  route("/webhooks/payments", "payments", ["POST"], "anyone"),
  route("/admin/products", "catalog", ["POST"], "admin"),
  route("/admin/products/:id", "catalog", ["PUT"], "admin"),
  route("/admin/cache/warm", "catalog", ["POST"], "admin"),
  route("/admin/sales", "sales", ["POST"], "admin"),
  route("/admin/sales/:sku", "sales", ["GET", "HEAD", "PATCH"], "admin"),
  route("/admin/stock/reconciliation", "sales", READ, "admin"),
  route("/admin/orders", "orders", READ, "admin"),
  // The orders service takes the request (the order notes it); payments refunds on its event.
  route("/admin/orders/:id/refund", "orders", ["POST"], "admin"),
  route("/admin/payments", "payments", READ, "admin"),
  // The order queue's figures and dead letters: the orders processes hold that queue.
  route("/admin/queue/stats", "orders", READ, "admin"),
  route("/admin/dlq", "orders", READ, "admin"),
  route("/admin/dlq/replay", "orders", ["POST"], "admin"),
  route("/admin/mail", "notifications", READ, "admin"),
  route("/admin/mail/:id", "notifications", READ, "admin"),
  route("/admin/mail/:id/raw", "notifications", READ, "admin"),
  // Every process answers it for itself; through the gateway, one inventory instance (the
  // reservation ledger's memory is what the soak bench watches). Others: ask each on its own port.
  route("/admin/diagnostics/memory", "inventory", READ, "admin"),
];

export type RouteMatch =
  | { readonly kind: "route"; readonly route: PublicRoute }
  | { readonly kind: "method_not_allowed" }
  | { readonly kind: "none" };

/** The route for a request path (without its query string). */
export function matchPublicRoute(method: string, path: string): RouteMatch {
  let pathMatched = false;
  for (const candidate of PUBLIC_ROUTES) {
    if (!candidate.pattern.test(path)) continue;
    if (candidate.methods.includes(method)) return { kind: "route", route: candidate };
    pathMatched = true;
  }
  return pathMatched ? { kind: "method_not_allowed" } : { kind: "none" };
}
