import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import type { ShardRouter } from "../../platform/db/shard-router.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { decodeCursor, encodeCursor, PAGE_QUERY_SCHEMA } from "../../platform/http/cursor.js";
import { adminOf, userOf } from "../../platform/http/principal.js";
import { shardOfSnowflake } from "../../platform/ids/snowflake.js";
import { SKU_PATTERN } from "../catalog/api.js";
import type { OrderIntake } from "./intake.js";
import type { OrderStatus } from "./order.js";
import type { OrderDoor } from "./order-door.js";
import type { OrderQueries } from "./order-queries.js";
import { OrderStore, orderEvent } from "./order-store.js";

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

/** An operator may refund an order the buyer paid for. */
const REFUNDABLE: readonly OrderStatus[] = ["paid", "shipped", "completed"];

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
  deps: {
    intake: OrderIntake;
    door: OrderDoor;
    queries: OrderQueries;
    tokens: TokenService;
    databases: ShardRouter;
  },
): void {
  const { intake, door, queries, tokens, databases } = deps;

  app.post<{ Body: { sku: string; quantity: number }; Headers: { "idempotency-key"?: string } }>(
    "/orders",
    { schema: { body: ORDER_BODY, headers: ORDER_HEADERS } },
    async (request, reply) => {
      const { userId } = userOf(request, tokens);
      await door.admit(userId, request.ip);
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

  // An operator asks for a paid order's money back: the payments service refunds it, and the order
  // becomes `refunded` when the provider confirms (loyalty points are taken back then).
  app.post<{ Params: { id: string } }>(
    "/admin/orders/:id/refund",
    { schema: { params: { type: "object", properties: { id: { type: "string", maxLength: 20 } } } } },
    async (request, reply) => {
      const admin = adminOf(request, tokens);
      const shard = shardOfSnowflake(request.params.id);
      if (shard === undefined) throw new AppError("order_not_found");
      const outcome = await databases.forVirtualShard(shard).transaction(async (tx) => {
        const order = await OrderStore.forUpdate(tx, request.params.id);
        if (!order) return "not_found" as const;
        if (!REFUNDABLE.includes(order.status)) return order.status;
        await OrderStore.note(tx, order.id, { status: order.status, cause: "refund_requested" }, [
          orderEvent("order.refund_requested", order, { requestedBy: admin.userId }),
        ]);
        return "requested" as const;
      });
      if (outcome === "not_found") throw new AppError("order_not_found");
      if (outcome !== "requested") {
        throw new AppError(
          "order_not_refundable",
          `The order is ${outcome}; only a paid order can be refunded.`,
        );
      }
      return reply.status(202).send({ orderId: request.params.id, refund: "requested" });
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
