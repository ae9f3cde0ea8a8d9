import type { Sql } from "../../platform/db/database.js";
import type { EmailKind } from "./email-kinds.js";

/** An email as recorded: what will be sent, and where its sending stands. */
export interface EmailRecord {
  readonly id: string;
  readonly orderId: string;
  readonly kind: EmailKind;
  readonly userId: string;
  readonly recipient: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly messageId: string;
  readonly status: "pending" | "sent";
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  readonly recordedAt: string;
  readonly sentAt: string | null;
}

export type NewEmail = Pick<
  EmailRecord,
  "id" | "orderId" | "kind" | "userId" | "recipient" | "subject" | "text" | "html" | "messageId"
>;

/** A claimed email: `attempts` is the claim's fencing token (see markSent). */
export type ClaimedEmail = EmailRecord;

const COLUMNS = `id::text AS id, order_id AS "orderId", kind, user_id AS "userId", recipient, subject,
  text_body AS text, html_body AS html, message_id AS "messageId", status, attempts,
  next_attempt_at AS "nextAttemptAt", last_error AS "lastError", recorded_at AS "recordedAt",
  sent_at AS "sentAt"`;

/** The SQL of `notifications.emails`, one statement per question. */
export const EmailStore = {
  /**
   * Records an email unless one of its kind exists for the order: true when this call recorded
   * it. Run in the event's transaction, so the email exists if and only if the event was applied.
   * The bare ON CONFLICT relies on the (order_id, kind) unique key alone: without that key a
   * second email would be recorded, which is what the tests check.
   */
  async record(tx: Sql, email: NewEmail): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO notifications.emails
         (id, order_id, kind, user_id, recipient, subject, text_body, html_body, message_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT DO NOTHING RETURNING id`,
      [
        email.id,
        email.orderId,
        email.kind,
        email.userId,
        email.recipient,
        email.subject,
        email.text,
        email.html,
        email.messageId,
      ],
    );
    return rows.length > 0;
  },

  /**
   * Claims up to `limit` due emails for `leaseMs`: their next attempt moves to the lease's end, so
   * no other sender takes them meanwhile, and one whose sender died is taken again after it. Rows
   * another sender is claiming right now are skipped, not waited for.
   */
  claimDue(sql: Sql, limit: number, leaseMs: number): Promise<ClaimedEmail[]> {
    return sql.query<ClaimedEmail & Record<string, unknown>>(
      `UPDATE notifications.emails
          SET attempts = attempts + 1,
              next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
        WHERE id IN (SELECT id FROM notifications.emails
                      WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [limit, leaseMs],
    );
  },

  /**
   * Renews the claims of emails still being sent, so a long send keeps its claim while a dead
   * sender's claims run out soon. A claim another sender has taken since is left alone.
   */
  async extendClaims(sql: Sql, claims: readonly { id: string; attempts: number }[], leaseMs: number) {
    if (claims.length === 0) return;
    await sql.query(
      `UPDATE notifications.emails e
          SET next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
         FROM unnest($1::bigint[], $2::int[]) AS c(id, attempts)
        WHERE e.id = c.id AND e.attempts = c.attempts AND e.status = 'pending'`,
      [claims.map((c) => c.id), claims.map((c) => c.attempts), leaseMs],
    );
  },

  /** Marks a claimed email sent; false when the claim was lost (its lease ran out and another took it). */
  async markSent(sql: Sql, id: string, attempts: number): Promise<boolean> {
    const rows = await sql.query(
      `UPDATE notifications.emails SET status = 'sent', sent_at = now(), last_error = NULL
        WHERE id = $1 AND status = 'pending' AND attempts = $2 RETURNING id`,
      [id, attempts],
    );
    return rows.length > 0;
  },

  /** Gives a claimed email back, to be tried again after `retryInMs`. */
  async markFailed(sql: Sql, id: string, attempts: number, error: string, retryInMs: number): Promise<void> {
    await sql.query(
      `UPDATE notifications.emails
          SET last_error = $3, next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
        WHERE id = $1 AND status = 'pending' AND attempts = $2`,
      [id, attempts, error.slice(0, 1000), retryInMs],
    );
  },

  /** Newest first, after the cursor (an id), optionally of one kind or one order. */
  list(
    sql: Sql,
    query: { limit: number; beforeId?: string; kind?: string; orderId?: string },
  ): Promise<EmailRecord[]> {
    return sql.query<EmailRecord & Record<string, unknown>>(
      `SELECT ${COLUMNS} FROM notifications.emails
        WHERE ($2::bigint IS NULL OR id < $2::bigint)
          AND ($3::text IS NULL OR kind = $3)
          AND ($4::text IS NULL OR order_id = $4)
        ORDER BY emails.id DESC LIMIT $1`,
      [query.limit, query.beforeId ?? null, query.kind ?? null, query.orderId ?? null],
    );
  },

  async byId(sql: Sql, id: string): Promise<EmailRecord | undefined> {
    const rows = await sql.query<EmailRecord & Record<string, unknown>>(
      `SELECT ${COLUMNS} FROM notifications.emails WHERE id = $1::bigint`,
      [id],
    );
    return rows[0];
  },
};
