import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import type { Database } from "../../platform/db/database.js";
import { decodeCursor, encodeCursor, PAGE_QUERY_SCHEMA } from "../../platform/http/cursor.js";
import { adminOf, userOf } from "../../platform/http/principal.js";
import type { CheckoutUrls, PaymentCheckout } from "./payment-checkout.js";
import { PAYMENT_STATUSES, type PaymentStatus, PaymentStore } from "./payment-store.js";
import { type Refund, RefundStore } from "./refund-store.js";

const ORDER_ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", pattern: "^[0-9]{1,20}$" } },
} as const;

export interface PaymentRoutesDeps {
  readonly checkout: PaymentCheckout;
  readonly db: Database;
  readonly tokens: TokenService;
  /** This Floodgate's public base URL, known once the server listens. */
  readonly publicUrl: () => string;
}

/** `POST /orders/:id/payment` for buyers, `GET /admin/payments` for operators. */
export function registerPaymentRoutes(app: FastifyInstance, deps: PaymentRoutesDeps): void {
  const { checkout, db, tokens } = deps;
  const urlsFor = (orderId: string): CheckoutUrls => {
    const base = deps.publicUrl();
    return { notifyUrl: `${base}/webhooks/payments`, returnUrl: `${base}/orders/${orderId}` };
  };

  app.post<{ Params: { id: string } }>(
    "/orders/:id/payment",
    { schema: { params: ORDER_ID_PARAMS } },
    async (request, reply) => {
      const { userId } = userOf(request, tokens);
      const { created, ...payment } = await checkout.open(
        request.params.id,
        userId,
        urlsFor(request.params.id),
      );
      return reply.status(created ? 201 : 200).send(payment);
    },
  );

  app.get<{
    Querystring: {
      limit: number;
      cursor?: string;
      status?: PaymentStatus;
      flagged?: boolean;
      orderId?: string;
    };
  }>(
    "/admin/payments",
    {
      schema: {
        querystring: {
          ...PAGE_QUERY_SCHEMA,
          properties: {
            ...PAGE_QUERY_SCHEMA.properties,
            status: { type: "string", enum: PAYMENT_STATUSES },
            // The operator's queue: payments whose amount did not match their order's.
            flagged: { type: "boolean" },
            orderId: { type: "string", pattern: "^[0-9]{1,20}$" },
          },
        },
      },
    },
    async (request) => {
      adminOf(request, tokens);
      const { limit, cursor, status, flagged, orderId } = request.query;
      const payments = await PaymentStore.list(db, {
        limit,
        ...(flagged ? { status: "flagged" as const } : status ? { status } : {}),
        ...(orderId ? { orderId } : {}),
        ...(cursor ? { before: decodeCursor(cursor) } : {}),
      });
      const refunds = new Map<string, Refund>(
        (
          await RefundStore.ofPayments(
            db,
            payments.map((p) => p.id),
          )
        ).map((refund) => [refund.paymentId, refund]),
      );
      const items = payments.map((payment) => {
        const refund = refunds.get(payment.id);
        return {
          ...payment,
          refund: refund
            ? {
                status: refund.status,
                reason: refund.reason,
                amountCents: refund.amountCents,
                attempts: refund.attempts,
                lastError: refund.lastError,
                requestedAt: refund.requestedAt,
              }
            : null,
        };
      });
      const last = items.at(-1);
      return { items, nextCursor: items.length === limit && last ? encodeCursor(last.id) : null };
    },
  );
}
