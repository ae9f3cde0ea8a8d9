import type { Database } from "../../platform/db/database.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import { RefundStore } from "./refund-store.js";

export type PaymentOutcome = "opened" | "succeeded" | "failed" | "flagged" | "refunded";

export type WebhookOutcome = "stored" | "replayed" | "signature_invalid" | "stale" | "malformed" | "error";

/** The payments service's instruments, on the process's registry (GET /metrics). */
export class PaymentMetrics {
  private readonly outcomes;
  private readonly webhookSeconds;
  private readonly refundAttempts;

  constructor(metrics: Metrics, db: Database) {
    this.outcomes = metrics.counter(
      "payments_total",
      "Payments by outcome: opened at the provider, succeeded, failed (declined), flagged (paid amount differs from the order's), refunded. Counted once each, when recorded.",
      ["outcome"],
    );
    this.webhookSeconds = metrics.histogram(
      "payments_webhook_response_seconds",
      "Time from receiving a payment notification to answering it, by outcome (stored, replayed, signature_invalid, stale, malformed, error).",
      ["outcome"],
    );
    this.refundAttempts = metrics.counter(
      "payments_refund_attempts_total",
      "Refund calls to the payment provider, by outcome (succeeded, submitted, failed: retried with backoff).",
      ["outcome"],
    );
    metrics.gauge(
      "payments_refunds_unfinished",
      "Refunds asked for whose money has not yet gone back (pending or submitted to the provider).",
      [],
      async (gauge) => {
        gauge.set(await RefundStore.countUnfinished(db).catch(() => Number.NaN));
      },
    );
  }

  payment(outcome: PaymentOutcome): void {
    this.outcomes.inc({ outcome });
  }

  webhook(outcome: WebhookOutcome, seconds: number): void {
    this.webhookSeconds.observe({ outcome }, seconds);
  }

  refundAttempt(outcome: "succeeded" | "submitted" | "failed"): void {
    this.refundAttempts.inc({ outcome });
  }
}
