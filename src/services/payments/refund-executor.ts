import type { Database } from "../../platform/db/database.js";
import { backoffWithJitter } from "../../platform/events/backoff.js";
import { writeOutbox } from "../../platform/events/outbox.js";
import type { Logger } from "../../platform/observability/logger.js";
import { type PaymentProvider, ProviderRejectedError } from "../../platform/payments/payment-provider.js";
import type { PaymentMetrics } from "./payment-metrics.js";
import { PAYMENTS_SCHEMA, paymentEvent } from "./payment-outbox.js";
import { PaymentStore } from "./payment-store.js";
import { type Refund, RefundStore } from "./refund-store.js";

export interface RefundExecutorOptions {
  readonly db: Database;
  readonly provider: PaymentProvider;
  readonly logger: Logger;
  readonly metrics: PaymentMetrics;
  /** Called after a refund is recorded, so its event is relayed at once. */
  readonly onRecorded: () => void;
  readonly pollMs?: number;
  /** How long an attempt holds its refund; longer than the provider call can take. */
  readonly leaseMs?: number;
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
}

/** Refunds attempted at once by one process. */
const CONCURRENCY = 8;

/**
 * Makes the refunds RefundRequests recorded, at the provider, until each succeeds: a failed call is
 * tried again with exponential backoff and jitter (never given up: the money is owed). Every
 * attempt at one refund carries the same idempotency key, so an attempt whose answer was lost (a
 * timeout, this process killed mid-call) and is made again yields the refund the provider already
 * made, not a second one. Each attempt leases its row (`next_attempt_at` moves past the call's
 * timeout), so several processes share the work without taking the same refund at once.
 */
export class RefundExecutor {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(private readonly options: RefundExecutorOptions) {
    this.pollMs = options.pollMs ?? 500;
    this.leaseMs = options.leaseMs ?? 15_000;
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Looks for due refunds now instead of at the next poll (one was just requested). */
  nudge(): void {
    this.wake?.();
  }

  /** Finishes the attempts in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** One pass: attempts the refunds due now; resolves to how many it attempted. */
  async runOnce(): Promise<number> {
    const due = await RefundStore.takeDue(this.options.db, CONCURRENCY, this.leaseMs);
    await Promise.all(due.map((refund) => this.attempt(refund)));
    return due.length;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let attempted = 0;
      try {
        attempted = await this.runOnce();
      } catch (error) {
        this.options.logger.error({ err: error }, "taking due refunds failed");
      }
      if (attempted > 0 || !this.running) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async attempt(refund: Refund): Promise<void> {
    const { db, provider, logger, metrics } = this.options;
    try {
      // Nothing to give back: recorded as refunded without asking the provider.
      const result =
        refund.amountCents === 0
          ? { providerRefundId: "none", status: "succeeded" as const }
          : await provider.refund({
              providerPaymentId: refund.providerPaymentId,
              amountCents: refund.amountCents,
              idempotencyKey: refund.idempotencyKey,
            });
      if (result.status === "pending") {
        await RefundStore.markSubmitted(db, refund.paymentId, result.providerRefundId);
        metrics.refundAttempt("submitted");
        return;
      }
      const recorded = await db.transaction(async (tx) => {
        const succeeded = await RefundStore.markSucceeded(tx, refund.paymentId, result.providerRefundId);
        // The provider's notification may have recorded it first: then its event is out already.
        if (!succeeded) return false;
        const payment = await PaymentStore.forUpdate(tx, refund.paymentId);
        if (!payment) throw new Error(`refund of unknown payment ${refund.paymentId}`);
        await PaymentStore.settle(tx, payment.id, { status: "refunded" });
        await writeOutbox(tx, PAYMENTS_SCHEMA, [
          paymentEvent("payment.refunded", payment, {
            reason: refund.reason,
            amountCents: refund.amountCents,
          }),
        ]);
        return true;
      });
      metrics.refundAttempt("succeeded");
      if (recorded) {
        metrics.payment("refunded");
        logger.info({ paymentId: refund.paymentId, reason: refund.reason }, "refunded");
        this.options.onRecorded();
      }
    } catch (error) {
      metrics.refundAttempt("failed");
      const delayMs = Math.max(
        250,
        backoffWithJitter(
          refund.attempts,
          this.options.retryBaseMs ?? 1_000,
          this.options.retryCapMs ?? 300_000,
        ),
      );
      // A refusal will not go away by itself (the payment is not refundable at the provider): said
      // louder, and still retried, so that it shows in the metrics until someone looks.
      const log =
        error instanceof ProviderRejectedError ? logger.error.bind(logger) : logger.warn.bind(logger);
      log(
        { err: error, paymentId: refund.paymentId, attempt: refund.attempts, retryInMs: delayMs },
        "refund failed; it will be retried",
      );
      await RefundStore.retryLater(db, refund.paymentId, delayMs, (error as Error).message).catch(
        (failure: unknown) => logger.error({ err: failure }, "could not schedule a refund's retry"),
      );
    }
  }
}
