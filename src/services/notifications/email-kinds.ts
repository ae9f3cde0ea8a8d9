/**
 * The emails the notifications service sends, one of each per order at most:
 * - `order_confirmation`: the order is paid (order.paid);
 * - `shipped`: the carrier took it, with the tracking number (order.shipped);
 * - `cancelled`: the order was cancelled, unpaid at its deadline (order.cancelled);
 * - `payment_refunded`: a payment arrived after the cancellation and went back (payment.refunded
 *   with reason `order_cancelled`).
 */
export const EMAIL_KINDS = ["order_confirmation", "shipped", "cancelled", "payment_refunded"] as const;

export type EmailKind = (typeof EMAIL_KINDS)[number];
