/**
 * The orders service's events, on the `orders.events` topic: its contract with the services that
 * follow an order (inventory, payments, fulfilment, notifications, loyalty). Add fields freely;
 * never change what one means.
 */
export const ORDER_EVENTS_TOPIC = "orders.events";

interface OrderFacts {
  readonly orderId: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  /** priceCents × quantity, in `currency`. */
  readonly amountCents: number;
  readonly currency: string;
}

export interface OrderEventData {
  /** Stored by a worker: it can be paid now. */
  "order.created": OrderFacts & { readonly paymentDueAt: string };
  "order.paid": OrderFacts & { readonly paymentId: string };
  "order.shipped": OrderFacts & { readonly trackingNumber: string };
  "order.completed": OrderFacts;
  /** Its stock goes back on sale. */
  "order.cancelled": OrderFacts & { readonly cause: string };
  "order.refunded": OrderFacts & { readonly paymentId: string; readonly from: string };
  /**
   * A payment succeeded for an order that cannot take it (cancelled, or paid already): the
   * payment must be refunded (the compensation), and the buyer told why.
   */
  "order.payment_refused": OrderFacts & {
    readonly paymentId: string;
    readonly reason: "order_cancelled" | "already_paid";
  };
  /** An operator asked for a paid order to be refunded. */
  "order.refund_requested": OrderFacts & { readonly requestedBy: string };
}

export type OrderEventType = keyof OrderEventData;
