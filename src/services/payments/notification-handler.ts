import type { TransactionSql } from "../../platform/db/database.js";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import type { EventHandler } from "../../platform/events/event-consumer.js";
import { writeOutbox } from "../../platform/events/outbox.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { ProviderNotification } from "../../platform/payments/payment-provider.js";
import type { PaymentMetrics } from "./payment-metrics.js";
import { PAYMENTS_SCHEMA, paymentEvent } from "./payment-outbox.js";
import { PaymentStore } from "./payment-store.js";
import { RefundStore } from "./refund-store.js";
import { notificationOf } from "./webhook-inbox.js";

/**
 * Acts on the provider's notifications, taken from the payments service's inbox topic, each in the
 * event consumer's transaction (once per notification, whatever the redeliveries): the payment's
 * new status and its `payments.events` event commit together.
 *
 * Notifications may arrive in any order and more than once under different event ids, so each is
 * judged against the payment's current status, not against the one before it: a decline after a
 * success changes nothing (a success is final), a success after a decline is taken (the buyer tried
 * again), a second success is ignored.
 */
export class NotificationHandler {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: PaymentMetrics,
    /** Called after a commit that wrote an event. */
    private readonly onPublished: () => void,
  ) {}

  readonly handle: EventHandler = async (event, tx, afterCommit) => {
    const notification = notificationOf(event);
    if (!notification) return this.ignore(event, "not a provider notification");
    await tx.query("UPDATE payments.webhook_events SET processed_at = now() WHERE event_id = $1", [
      notification.eventId,
    ]);
    switch (notification.kind) {
      case "payment_succeeded":
        return this.succeeded(notification, tx, afterCommit);
      case "payment_declined":
        return this.declined(notification, tx, afterCommit);
      case "refund_succeeded":
        return this.refunded(notification, tx, afterCommit);
    }
  };

  private async succeeded(
    notification: Extract<ProviderNotification, { kind: "payment_succeeded" }>,
    tx: TransactionSql,
    afterCommit: (work: () => Promise<void>) => void,
  ): Promise<void> {
    const payment = await this.paymentOf(notification, tx);
    if (!payment) return;
    if (payment.status !== "open" && payment.status !== "failed") {
      this.logger.info(
        { paymentId: payment.id, status: payment.status, eventId: notification.eventId },
        "a success for a payment settled already; nothing to do",
      );
      return;
    }
    const paid = {
      paidCents: notification.amountCents,
      paidCurrency: notification.currency,
      providerPaymentId: notification.providerPaymentId,
    };
    // Only the order's exact amount, in its currency, pays it. Anything else is held for an
    // operator: taking a short payment would give goods away; an over-payment owes money back.
    if (notification.amountCents === payment.amountCents && notification.currency === payment.currency) {
      await PaymentStore.settle(tx, payment.id, { status: "succeeded", ...paid });
      await writeOutbox(tx, PAYMENTS_SCHEMA, [
        paymentEvent("payment.succeeded", { ...payment, ...paid }, {}),
      ]);
      afterCommit(async () => this.published("succeeded"));
      return;
    }
    this.logger.warn(
      {
        paymentId: payment.id,
        orderId: payment.orderId,
        expectedCents: payment.amountCents,
        expectedCurrency: payment.currency,
        ...paid,
      },
      "paid amount differs from the order's: flagged for an operator",
    );
    await PaymentStore.settle(tx, payment.id, { status: "flagged", ...paid });
    await writeOutbox(tx, PAYMENTS_SCHEMA, [
      paymentEvent("payment.flagged", { ...payment, ...paid }, { expectedCents: payment.amountCents }),
    ]);
    afterCommit(async () => this.published("flagged"));
  }

  private async declined(
    notification: Extract<ProviderNotification, { kind: "payment_declined" }>,
    tx: TransactionSql,
    afterCommit: (work: () => Promise<void>) => void,
  ): Promise<void> {
    const payment = await this.paymentOf(notification, tx);
    if (!payment) return;
    if (payment.status !== "open") {
      this.logger.info(
        { paymentId: payment.id, status: payment.status, eventId: notification.eventId },
        "a decline for a payment that is not open; nothing to do",
      );
      return;
    }
    await PaymentStore.settle(tx, payment.id, { status: "failed", failureReason: notification.reason });
    await writeOutbox(tx, PAYMENTS_SCHEMA, [
      paymentEvent("payment.failed", payment, { reason: notification.reason }),
    ]);
    afterCommit(async () => this.published("failed"));
  }

  /** The provider confirms a refund: recorded here unless the refund call's answer recorded it first. */
  private async refunded(
    notification: Extract<ProviderNotification, { kind: "refund_succeeded" }>,
    tx: TransactionSql,
    afterCommit: (work: () => Promise<void>) => void,
  ): Promise<void> {
    const payment = await this.paymentOf(notification, tx);
    if (!payment) return;
    const refund = await RefundStore.markSucceeded(tx, payment.id, notification.providerRefundId);
    if (!refund) return;
    await PaymentStore.settle(tx, payment.id, { status: "refunded" });
    await writeOutbox(tx, PAYMENTS_SCHEMA, [
      paymentEvent("payment.refunded", payment, { reason: refund.reason, amountCents: refund.amountCents }),
    ]);
    afterCommit(async () => this.published("refunded"));
  }

  /** The payment a notification is about, locked; undefined (logged) when it names none of ours. */
  private async paymentOf(notification: ProviderNotification, tx: TransactionSql) {
    const payment = await PaymentStore.forUpdate(tx, notification.paymentId);
    if (
      !payment ||
      (payment.providerPaymentId && payment.providerPaymentId !== notification.providerPaymentId)
    ) {
      this.logger.warn(
        {
          eventId: notification.eventId,
          paymentId: notification.paymentId,
          providerPaymentId: notification.providerPaymentId,
        },
        "a notification for no payment of ours; ignored",
      );
      return undefined;
    }
    return payment;
  }

  private published(outcome: "succeeded" | "flagged" | "failed" | "refunded"): void {
    this.metrics.payment(outcome);
    this.onPublished();
  }

  private ignore(event: DomainEvent, why: string): void {
    this.logger.warn({ eventId: event.id, type: event.type, why }, "payment notification ignored");
  }
}
