import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { decodeCursor, encodeCursor, PAGE_QUERY_SCHEMA } from "../../platform/http/cursor.js";
import { adminOf, userOf } from "../../platform/http/principal.js";
import { SKU_PATTERN } from "../catalog/api.js";
import type { OrderIntake } from "./intake.js";
import type { OrderStatus } from "./order.js";
import type { OrderQueries } from "./order-queries.js";

const ORDER_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["sku", "quantity"],
  properties: {
    sku: { type: "string", pattern: SKU_PATTERN },
    quantity: { type: "integer", minimum: 1, maximum: 1000 },
  },
} as const;

const ORDER_HEADERS = {
  type: "object",
  properties: {
    "idempotency-key": { type: "string", minLength: 1, maxLength: 128, pattern: "^[\\x21-\\x7E]+$" },
  },
} as const;

const STATUSES: readonly OrderStatus[] = [
  "pending",
  "created",
  "paid",
  "shipped",
  "completed",
  "cancelled",
  "refunded",
];

export function registerOrderRoutes(
  app: FastifyInstance,
  deps: { intake: OrderIntake; queries: OrderQueries; tokens: TokenService },
): void {
  const { intake, queries, tokens } = deps;

  app.post<{ Body: { sku: string; quantity: number }; Headers: { "idempotency-key"?: string } }>(
    "/orders",
    { schema: { body: ORDER_BODY, headers: ORDER_HEADERS } },
    async (request, reply) => {
      const { userId } = userOf(request, tokens);
      const orderId = await intake.place({
        userId,
        sku: request.body.sku,
        quantity: request.body.quantity,
        idempotencyKey: request.headers["idempotency-key"],
      });
      return reply.status(202).send({ orderId, status: "pending" });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/orders/:id",
    { schema: { params: { type: "object", properties: { id: { type: "string", maxLength: 20 } } } } },
    async (request) => {
      const principal = userOf(request, tokens);
      const order = await queries.byId(request.params.id);
      // Someone else's order is reported as missing, not forbidden: ids must not leak existence.
      if (!order || (order.userId !== principal.userId && !principal.admin))
        throw new AppError("order_not_found");
      return order;
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/me/orders",
    { schema: { querystring: PAGE_QUERY_SCHEMA } },
    async (request) => {
      const { userId } = userOf(request, tokens);
      const items = await queries.ofUser(userId, request.query.limit, decodeCursor(request.query.cursor));
      return page(items, request.query.limit);
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; status?: OrderStatus } }>(
    "/admin/orders",
    {
      schema: {
        querystring: {
          ...PAGE_QUERY_SCHEMA,
          properties: { ...PAGE_QUERY_SCHEMA.properties, status: { type: "string", enum: STATUSES } },
        },
      },
    },
    async (request) => {
      adminOf(request, tokens);
      const { limit, cursor, status } = request.query;
      return page(await queries.all(status, limit, decodeCursor(cursor)), limit);
    },
  );
}

function page<T extends { id: string }>(
  items: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const last = items.at(-1);
  return { items, nextCursor: items.length === limit && last ? encodeCursor(last.id) : null };
}
