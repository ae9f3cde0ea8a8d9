/**
 * The payments service's events, on the `payments.events` topic: its contract with the orders,
 * notifications and loyalty services. Add fields freely; never change what one means.
 */
export const PAYMENT_EVENTS_TOPIC = "payments.events";

interface PaymentFacts {
  readonly paymentId: string;
  readonly orderId: string;
  readonly userId: string;
  readonly amountCents: number;
  readonly currency: string;
}

export interface PaymentEventData {
  /** The provider confirmed the payment, for the order's full amount. */
  "payment.succeeded": PaymentFacts;
  /** The provider declined it; the order stays unpaid (the buyer may pay again until its deadline). */
  "payment.failed": PaymentFacts & { readonly reason: string };
  /**
   * The money went back to the buyer: `order_cancelled` (it arrived after the order was cancelled),
   * `already_paid` (a second payment for a paid order), `requested` (an operator refunded the order).
   */
  "payment.refunded": PaymentFacts & { readonly reason: "order_cancelled" | "already_paid" | "requested" };
  /** Paid, but not the order's amount: held for an operator, never accepted. */
  "payment.flagged": PaymentFacts & { readonly expectedCents: number };
}

export type PaymentEventType = keyof PaymentEventData;
