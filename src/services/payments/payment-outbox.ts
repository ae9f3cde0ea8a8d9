import { newEvent } from "../../platform/events/domain-event.js";
import type { OutboxEntry } from "../../platform/events/outbox.js";
import { PAYMENT_EVENTS_TOPIC, type PaymentEventData, type PaymentEventType } from "./payment-events.js";
import type { Payment } from "./payment-store.js";

/** The payments service's schema: its tables, its outbox and its processed-event keys. */
export const PAYMENTS_SCHEMA = "payments";

/**
 * A `payments.events` entry with the facts every payment event carries, from the payment as
 * stored; `amountCents` is the amount the event is about (paid, or refunded), unless `extra` says.
 */
export function paymentEvent<T extends PaymentEventType>(
  type: T,
  payment: Payment,
  extra: Omit<PaymentEventData[T], "paymentId" | "orderId" | "userId" | "amountCents" | "currency"> & {
    readonly amountCents?: number;
  },
): OutboxEntry {
  const data = {
    paymentId: payment.id,
    orderId: payment.orderId,
    userId: payment.userId,
    amountCents: payment.paidCents ?? payment.amountCents,
    currency: payment.paidCurrency ?? payment.currency,
    ...extra,
  };
  return { topic: PAYMENT_EVENTS_TOPIC, event: newEvent(type, data) };
}
