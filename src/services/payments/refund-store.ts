import type { Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { PaymentEventData } from "./payment-events.js";

export type RefundReason = PaymentEventData["payment.refunded"]["reason"];

export type RefundStatus = "pending" | "submitted" | "succeeded";

export interface Refund {
  readonly paymentId: string;
  readonly orderId: string;
  readonly providerPaymentId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly reason: RefundReason;
  readonly idempotencyKey: string;
  readonly status: RefundStatus;
  readonly providerRefundId: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly requestedAt: string;
}

const COLUMNS = `payment_id::text AS payment_id, order_id, provider_payment_id, amount_cents, currency, reason,
  idempotency_key, status, provider_refund_id, attempts, last_error, requested_at`;

interface RefundRow {
  [column: string]: unknown;
  payment_id: string;
  order_id: string;
  provider_payment_id: string;
  amount_cents: string;
  currency: string;
  reason: RefundReason;
  idempotency_key: string;
  status: RefundStatus;
  provider_refund_id: string | null;
  attempts: number;
  last_error: string | null;
  requested_at: unknown;
}

function toRefund(row: RefundRow): Refund {
  return {
    paymentId: row.payment_id,
    orderId: row.order_id,
    providerPaymentId: row.provider_payment_id,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    reason: row.reason,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    providerRefundId: row.provider_refund_id,
    attempts: row.attempts,
    lastError: row.last_error,
    requestedAt: isoTimestamp(row.requested_at),
  };
}

/** The provider's idempotency key of a payment's refund: one per payment, the same on every attempt. */
export function refundIdempotencyKey(paymentId: string): string {
  return `floodgate-refund-${paymentId}`;
}

/** SQL for payments.refunds: the only code that touches it. */
export const RefundStore = {
  /**
   * Asks for a payment's refund. A payment is refunded once, ever: asking again (a redelivered
   * event, a second event for the same payment) finds the row there and changes nothing.
   * Resolves to true when this call made the request.
   */
  async request(
    sql: Sql,
    refund: {
      paymentId: string;
      orderId: string;
      providerPaymentId: string;
      amountCents: number;
      currency: string;
      reason: RefundReason;
    },
  ): Promise<boolean> {
    const rows = await sql.query(
      `INSERT INTO payments.refunds
         (payment_id, order_id, provider_payment_id, amount_cents, currency, reason, idempotency_key, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
       ON CONFLICT (payment_id) DO NOTHING
       RETURNING payment_id`,
      [
        refund.paymentId,
        refund.orderId,
        refund.providerPaymentId,
        refund.amountCents,
        refund.currency,
        refund.reason,
        refundIdempotencyKey(refund.paymentId),
      ],
    );
    return rows.length > 0;
  },

  /**
   * Takes up to `limit` refunds that are due, and leases them for `leaseMs`: until then no other
   * attempt takes them (here or in another process); after it, one that was never answered (the
   * process died mid-call) is due again. Each take counts an attempt.
   */
  async takeDue(sql: Sql, limit: number, leaseMs: number): Promise<Refund[]> {
    const rows = await sql.query<RefundRow>(
      `UPDATE payments.refunds
       SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE payment_id IN (
         SELECT payment_id FROM payments.refunds
         WHERE status = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [limit, leaseMs],
    );
    return rows.map(toRefund);
  },

  /**
   * The money went back. Only from pending or submitted, so the two ways of learning it (the
   * refund call's answer, the provider's notification) record it once between them. Resolves to
   * the refund when this call recorded it.
   */
  async markSucceeded(sql: Sql, paymentId: string, providerRefundId: string): Promise<Refund | undefined> {
    const rows = await sql.query<RefundRow>(
      `UPDATE payments.refunds SET status = 'succeeded', provider_refund_id = $2, succeeded_at = now(), last_error = NULL
       WHERE payment_id = $1 AND status IN ('pending', 'submitted')
       RETURNING ${COLUMNS}`,
      [paymentId, providerRefundId],
    );
    return rows[0] && toRefund(rows[0]);
  },

  /** The provider took the refund and will notify when it is done. */
  async markSubmitted(sql: Sql, paymentId: string, providerRefundId: string): Promise<void> {
    await sql.query(
      `UPDATE payments.refunds SET status = 'submitted', provider_refund_id = $2, last_error = NULL
       WHERE payment_id = $1 AND status = 'pending'`,
      [paymentId, providerRefundId],
    );
  },

  async retryLater(sql: Sql, paymentId: string, delayMs: number, error: string): Promise<void> {
    await sql.query(
      `UPDATE payments.refunds
       SET next_attempt_at = now() + make_interval(secs => $2::double precision / 1000), last_error = $3
       WHERE payment_id = $1 AND status = 'pending'`,
      [paymentId, delayMs, error.slice(0, 1000)],
    );
  },

  async ofPayments(sql: Sql, paymentIds: readonly string[]): Promise<Refund[]> {
    if (paymentIds.length === 0) return [];
    const rows = await sql.query<RefundRow>(
      `SELECT ${COLUMNS} FROM payments.refunds WHERE payment_id = ANY($1::bigint[])`,
      [paymentIds],
    );
    return rows.map(toRefund);
  },

  async countUnfinished(sql: Sql): Promise<number> {
    const rows = await sql.query<{ count: string }>(
      "SELECT count(*) AS count FROM payments.refunds WHERE status <> 'succeeded'",
    );
    return Number(rows[0]?.count ?? 0);
  },
};
