import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { adminOf } from "../../platform/http/principal.js";
import { SKU_PATTERN } from "../catalog/api.js";
import type { ServiceClients } from "../service-module.js";
import type { SaleStore } from "./sale-store.js";

/** An ISO-8601 date-time with a time zone, within PostgreSQL's and JavaScript's shared range. */
const INSTANT_PATTERN = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$";

const SALE_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["sku", "stock", "perUserLimit", "startsAt", "endsAt"],
  properties: {
    sku: { type: "string", pattern: SKU_PATTERN },
    stock: { type: "integer", minimum: 0, maximum: 100_000_000 },
    perUserLimit: { type: "integer", minimum: 1, maximum: 1000 },
    startsAt: { type: "string", maxLength: 40, pattern: INSTANT_PATTERN },
    endsAt: { type: "string", maxLength: 40, pattern: INSTANT_PATTERN },
  },
} as const;

const SALE_CHANGE_BODY = {
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  properties: {
    stock: { type: "integer", minimum: 0, maximum: 100_000_000 },
    endsAt: { type: "string", maxLength: 40, pattern: INSTANT_PATTERN },
  },
} as const;

const SKU_PARAMS = {
  type: "object",
  properties: { sku: { type: "string", pattern: SKU_PATTERN } },
} as const;

interface SaleBody {
  sku: string;
  stock: number;
  perUserLimit: number;
  startsAt: string;
  endsAt: string;
}

function instant(value: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AppError("invalid_request", `body.${field} must be an ISO-8601 date-time.`);
  return new Date(ms).toISOString();
}

export function registerSalesRoutes(
  app: FastifyInstance,
  deps: { store: SaleStore; clients: ServiceClients; tokens: TokenService },
): void {
  const { store, clients, tokens } = deps;

  app.post<{ Body: SaleBody }>("/admin/sales", { schema: { body: SALE_BODY } }, async (request, reply) => {
    adminOf(request, tokens);
    const body = request.body;
    const terms = {
      sku: body.sku,
      stock: body.stock,
      perUserLimit: body.perUserLimit,
      startsAt: instant(body.startsAt, "startsAt"),
      endsAt: instant(body.endsAt, "endsAt"),
    };
    if (Date.parse(terms.endsAt) <= Date.parse(terms.startsAt)) throw new AppError("invalid_sale_window");
    if (!(await clients.catalog.productBySku({ sku: terms.sku }))) {
      throw new AppError("unknown_sku", `No product has SKU "${terms.sku}".`);
    }
    // Inventory first: it owns the stock and refuses a second sale for the SKU atomically.
    const levels = await clients.inventory.defineStock(terms);
    const sale = await store.insert(terms);
    return reply.status(201).send({ ...sale, levels });
  });

  app.get<{ Params: { sku: string } }>(
    "/admin/sales/:sku",
    { schema: { params: SKU_PARAMS } },
    async (request) => {
      adminOf(request, tokens);
      const sale = await store.bySku(request.params.sku);
      if (!sale) throw new AppError("sale_not_found");
      const [levels, changes] = await Promise.all([
        clients.inventory.levels({ sku: sale.sku }),
        store.changes(sale.sku),
      ]);
      return { ...sale, levels, changes };
    },
  );

  // Ends or changes a sale while it runs. Inventory first: it owns the stock, refuses to go below
  // what is sold or reserved, and makes every process selling the SKU see the new terms at once.
  app.patch<{ Params: { sku: string }; Body: { stock?: number; endsAt?: string } }>(
    "/admin/sales/:sku",
    { schema: { params: SKU_PARAMS, body: SALE_CHANGE_BODY } },
    async (request) => {
      const admin = adminOf(request, tokens);
      const { sku } = request.params;
      if (!(await store.bySku(sku))) throw new AppError("sale_not_found");
      const { stock, endsAt } = request.body;
      const changed = await clients.inventory.changeSale({
        sku,
        ...(stock !== undefined ? { stock } : {}),
        ...(endsAt !== undefined ? { endsAt: instant(endsAt, "endsAt") } : {}),
      });
      const result = await store.change(sku, {
        changedBy: admin.userId,
        stock: { before: changed.before.stock, after: changed.after.stock },
        endsAt: { before: changed.before.endsAt, after: changed.after.endsAt },
      });
      if (!result) throw new AppError("sale_not_found");
      return { ...result.sale, levels: changed.levels, change: result.record };
    },
  );

  // Live stock (memory or Redis) against the database of record, now. Read-only: drift is reported
  // for a person to resolve, never overwritten (see docs/operations.md).
  app.get("/admin/stock/reconciliation", async (request) => {
    adminOf(request, tokens);
    return clients.inventory.reconcile({});
  });
}
