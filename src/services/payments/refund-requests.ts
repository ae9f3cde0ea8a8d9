import type { EventHandler } from "../../platform/events/event-consumer.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { OrderEventData } from "../orders/order-events.js";
import { type Payment, PaymentStore } from "./payment-store.js";
import { type RefundReason, RefundStore } from "./refund-store.js";

/**
 * The orders service's word on money that must go back, from `orders.events`:
 * - `order.payment_refused`: a payment succeeded for an order that could not take it (cancelled at
 *   its deadline, or paid already by another payment): that payment is refunded;
 * - `order.refund_requested`: an operator refunds a paid order: the payment that paid it is refunded.
 *
 * The handler only records the refund (one per payment, ever: a unique key), in the consumer's
 * transaction; the RefundExecutor makes it at the provider and retries until it succeeds, so a
 * provider outage never holds up, or dead-letters, the order events behind it.
 */
export class RefundRequests {
  constructor(
    private readonly logger: Logger,
    private readonly onRequested: () => void,
  ) {}

  readonly handle: EventHandler = async (event, tx, afterCommit) => {
    let payment: Payment | undefined;
    let reason: RefundReason;
    switch (event.type) {
      case "order.payment_refused": {
        const data = event.data as unknown as OrderEventData["order.payment_refused"];
        payment = await PaymentStore.forUpdate(tx, data.paymentId);
        reason = data.reason;
        if (!payment) {
          this.logger.error(
            { eventId: event.id, ...data },
            "a refused payment that is not ours; nothing to refund",
          );
          return;
        }
        break;
      }
      case "order.refund_requested": {
        const data = event.data as unknown as OrderEventData["order.refund_requested"];
        payment = await PaymentStore.succeededForOrder(tx, data.orderId);
        reason = "requested";
        // The order is paid, so its payment succeeded, in a transaction that committed before the
        // event that paid the order was even published. Missing, it is a fault worth an operator's
        // eyes: throwing retries the event, then dead-letters it (floodgate dlq shows it).
        if (!payment) throw new Error(`order ${data.orderId} has no successful payment to refund`);
        break;
      }
      default:
        return;
    }
    if (payment.providerPaymentId === null) {
      throw new Error(`payment ${payment.id} has no provider payment id to refund`);
    }
    const requested = await RefundStore.request(tx, {
      paymentId: payment.id,
      orderId: payment.orderId,
      providerPaymentId: payment.providerPaymentId,
      amountCents: payment.paidCents ?? payment.amountCents,
      currency: payment.paidCurrency ?? payment.currency,
      reason,
    });
    if (requested) {
      this.logger.info({ paymentId: payment.id, orderId: payment.orderId, reason }, "refund requested");
      afterCommit(async () => this.onRequested());
    } else {
      this.logger.info({ paymentId: payment.id, reason }, "the payment's refund was requested before");
    }
  };
}
