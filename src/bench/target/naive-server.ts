/**
 * The `naive` baseline: the order endpoint most people would write first, as its own small
 * node:http server with the same bearer auth as Floodgate (TokenService, same secret). One
 * database transaction per request, no cache, no queue (see naive-orders.ts). PGlite by default,
 * PostgreSQL via `pg` with --database-url. Child entry point, started by baseline-target.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { TokenService } from "../../platform/auth/tokens.js";
import type { Database } from "../../platform/db/database.js";
import { openPgDatabase } from "../../platform/db/pg-database.js";
import { openPgliteDatabase } from "../../platform/db/pglite-database.js";
import { parseBaselineConfig, serveUntilStopped } from "./baseline-config.js";
import { NaiveOrders } from "./naive-orders.js";

const BODY_LIMIT_BYTES = 16_384;
/** pg's own default pool size: what the obvious code gets without thinking about it. */
const POOL_SIZE = 10;

const config = parseBaselineConfig(process.argv[2]);
if (config.kind !== "naive") throw new Error("naive-server needs a naive configuration");
const tokens = new TokenService(config.authSecret);
const db: Database = config.databaseUrl
  ? await openPgDatabase({ url: config.databaseUrl, name: "naive", poolSize: POOL_SIZE })
  : await openPgliteDatabase({ dataDir: config.dataDir, name: "naive" });
const orders = new NaiveOrders(db);
await orders.create(config.stock);

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    request.once("end", () =>
      resolve(size <= BODY_LIMIT_BYTES ? Buffer.concat(chunks).toString("utf8") : undefined),
    );
    request.once("error", reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

const failure = (code: string, message: string) => ({ error: { code, message } });

const MAX_PAGE = 1000;

/**
 * What the bench audits a baseline by, in the shapes of Floodgate's admin routes: the sale's
 * levels and every stored order, for an admin token only.
 */
async function handleAudit(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
  let admin = false;
  try {
    admin = tokens.authenticate(request.headers.authorization).admin;
  } catch {
    return send(response, 401, failure("unauthorized", "A valid bearer token is required."));
  }
  if (!admin) return send(response, 403, failure("forbidden", "Admins only."));
  const sale = /^\/admin\/sales\/([^/]+)$/.exec(url.pathname);
  if (sale) {
    const levels = await orders.levels(decodeURIComponent(sale[1]!));
    return levels
      ? send(response, 200, { levels })
      : send(response, 404, failure("sale_not_found", "No such sale."));
  }
  const limit = Math.min(MAX_PAGE, Math.max(1, Number(url.searchParams.get("limit") ?? 100) || 100));
  const cursor = url.searchParams.get("cursor") ?? "0";
  if (!/^\d{1,19}$/.test(cursor)) return send(response, 400, failure("invalid_cursor", "Bad cursor."));
  const items = await orders.page(limit, cursor);
  const last = items.at(-1);
  send(response, 200, { items, nextCursor: items.length === limit && last ? last.id : null });
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const text = await readBody(request);
  const url = new URL(request.url ?? "/", "http://naive");
  if (
    request.method === "GET" &&
    (url.pathname === "/admin/orders" || url.pathname.startsWith("/admin/sales/"))
  ) {
    return handleAudit(request, response, url);
  }
  if (request.method !== "POST" || request.url !== "/orders") {
    return send(response, 404, failure("route_not_found", "Only POST /orders is served."));
  }
  let userId: string;
  try {
    userId = tokens.authenticate(request.headers.authorization).userId;
  } catch {
    return send(response, 401, failure("unauthorized", "A valid bearer token is required."));
  }
  if (text === undefined) return send(response, 413, failure("payload_too_large", "Body too large."));
  let parsed: { sku?: unknown; quantity?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return send(response, 400, failure("invalid_json", "The body is not JSON."));
  }
  const { sku, quantity } = parsed;
  if (typeof sku !== "string" || !Number.isInteger(quantity) || (quantity as number) < 1) {
    return send(response, 400, failure("invalid_request", "Expected {sku, quantity}."));
  }
  const key = request.headers["idempotency-key"];
  const outcome = await orders.place({
    userId,
    sku,
    quantity: quantity as number,
    idempotencyKey: typeof key === "string" ? key : undefined,
  });
  send(response, outcome.status, outcome.body);
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    process.stderr.write(`naive: request failed: ${String(error)}\n`);
    if (!response.headersSent) send(response, 500, failure("internal_error", "Something went wrong."));
  });
});
serveUntilStopped(server, async () => {
  await orders.drop().catch(() => {});
  await db.close();
});
