import type { Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";

export type PaymentStatus = "open" | "succeeded" | "failed" | "flagged" | "refunded";

export const PAYMENT_STATUSES: readonly PaymentStatus[] = [
  "open",
  "succeeded",
  "failed",
  "flagged",
  "refunded",
];

export interface Payment {
  readonly id: string;
  readonly orderId: string;
  readonly userId: string;
  /** What the order costs: what was asked of the provider. */
  readonly amountCents: number;
  readonly currency: string;
  readonly status: PaymentStatus;
  /** Null until the provider has opened it (a crash in between leaves it for the next request to finish). */
  readonly providerPaymentId: string | null;
  readonly redirectUrl: string | null;
  /** What the provider says was paid; null until it says so. */
  readonly paidCents: number | null;
  readonly paidCurrency: string | null;
  readonly failureReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const COLUMNS = `id::text AS id, order_id, user_id, amount_cents, currency, status, provider_payment_id,
  redirect_url, paid_cents, paid_currency, failure_reason, created_at, updated_at`;

interface PaymentRow {
  [column: string]: unknown;
  id: string;
  order_id: string;
  user_id: string;
  amount_cents: string;
  currency: string;
  status: PaymentStatus;
  provider_payment_id: string | null;
  redirect_url: string | null;
  paid_cents: string | null;
  paid_currency: string | null;
  failure_reason: string | null;
  created_at: unknown;
  updated_at: unknown;
}

function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    status: row.status,
    providerPaymentId: row.provider_payment_id,
    redirectUrl: row.redirect_url,
    paidCents: row.paid_cents === null ? null : Number(row.paid_cents),
    paidCurrency: row.paid_currency,
    failureReason: row.failure_reason,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}

export interface PaymentFilter {
  readonly status?: PaymentStatus;
  readonly orderId?: string;
  /** Newest first, ids below this one (keyset pagination). */
  readonly before?: string;
  readonly limit: number;
}

/** SQL for payments.payments: the only code that touches it. */
export const PaymentStore = {
  async openForOrder(sql: Sql, orderId: string): Promise<Payment | undefined> {
    const rows = await sql.query<PaymentRow>(
      `SELECT ${COLUMNS} FROM payments.payments WHERE order_id = $1 AND status = 'open'`,
      [orderId],
    );
    return rows[0] && toPayment(rows[0]);
  },

  /** Opens a payment for an order, unless one is open already (then undefined: read that one). */
  async insertOpen(
    sql: Sql,
    payment: { id: string; orderId: string; userId: string; amountCents: number; currency: string },
  ): Promise<Payment | undefined> {
    const rows = await sql.query<PaymentRow>(
      `INSERT INTO payments.payments (id, order_id, user_id, amount_cents, currency, status)
       VALUES ($1, $2, $3, $4, $5, 'open')
       ON CONFLICT (order_id) WHERE status = 'open' DO NOTHING
       RETURNING ${COLUMNS}`,
      [payment.id, payment.orderId, payment.userId, payment.amountCents, payment.currency],
    );
    return rows[0] && toPayment(rows[0]);
  },

  /**
   * Records the provider's side of a payment. Several requests may open the same payment at the
   * provider at once (it is idempotent on the payment id and answers each the same): the first
   * write wins and the others find it already there.
   */
  async attachProvider(
    sql: Sql,
    id: string,
    provider: { providerPaymentId: string; redirectUrl: string },
  ): Promise<void> {
    await sql.query(
      `UPDATE payments.payments SET provider_payment_id = $2, redirect_url = $3, updated_at = now()
       WHERE id = $1 AND provider_payment_id IS NULL`,
      [id, provider.providerPaymentId, provider.redirectUrl],
    );
  },

  async forUpdate(sql: Sql, id: string): Promise<Payment | undefined> {
    if (!/^\d{1,20}$/.test(id)) return undefined;
    const rows = await sql.query<PaymentRow>(
      `SELECT ${COLUMNS} FROM payments.payments WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0] && toPayment(rows[0]);
  },

  /** The payment that paid an order (the one a requested refund gives back). */
  async succeededForOrder(sql: Sql, orderId: string): Promise<Payment | undefined> {
    const rows = await sql.query<PaymentRow>(
      `SELECT ${COLUMNS} FROM payments.payments WHERE order_id = $1 AND status = 'succeeded'
       ORDER BY updated_at LIMIT 1 FOR UPDATE`,
      [orderId],
    );
    return rows[0] && toPayment(rows[0]);
  },

  async settle(
    sql: Sql,
    id: string,
    change: {
      status: PaymentStatus;
      paidCents?: number;
      paidCurrency?: string;
      failureReason?: string;
      /** Adopted when the payment never recorded it (the process died between opening it and writing). */
      providerPaymentId?: string;
    },
  ): Promise<void> {
    await sql.query(
      `UPDATE payments.payments
       SET status = $2, paid_cents = COALESCE($3, paid_cents), paid_currency = COALESCE($4, paid_currency),
           failure_reason = COALESCE($5, failure_reason),
           provider_payment_id = COALESCE(provider_payment_id, $6), updated_at = now()
       WHERE id = $1`,
      [
        id,
        change.status,
        change.paidCents ?? null,
        change.paidCurrency ?? null,
        change.failureReason ?? null,
        change.providerPaymentId ?? null,
      ],
    );
  },

  async list(sql: Sql, filter: PaymentFilter): Promise<Payment[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (condition: string, value: unknown) => {
      params.push(value);
      conditions.push(condition.replace("?", `$${params.length}`));
    };
    if (filter.status) where("status = ?", filter.status);
    if (filter.orderId) where("order_id = ?", filter.orderId);
    if (filter.before) where("id < ?", filter.before);
    params.push(filter.limit);
    const rows = await sql.query<PaymentRow>(
      `SELECT ${COLUMNS} FROM payments.payments
       ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""}
       ORDER BY payments.id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toPayment);
  },
};
