/**
 * The payment simulator's HTTP API, as its server answers it and the SimulatorPaymentProvider
 * adapter calls it: the shapes on the wire, in one place so the two cannot drift apart.
 *
 * - `POST /v1/payments` (`Idempotency-Key` = the body's paymentId) → 201, or 200 with the payment
 *   already made for that key: `PaymentView`
 * - `GET /v1/payments/:providerPaymentId` → `PaymentView`
 * - `POST /v1/refunds` (`Idempotency-Key` required) → 201, or 200 with the refund already made for
 *   that key: `RefundView`
 * - `GET /checkout/:providerPaymentId` → the checkout page (HTML); `POST …/confirm` and
 *   `POST …/decline` settle the payment (see `SettleBody`)
 * - test controls: `PUT /test/behaviour`, `GET /test/notifications`, `POST /test/notifications/release`
 */
export const SIMULATOR_PATHS = {
  payments: "/v1/payments",
  refunds: "/v1/refunds",
  checkout: "/checkout",
  behaviour: "/test/behaviour",
  notifications: "/test/notifications",
  release: "/test/notifications/release",
} as const;

export interface CreatePaymentBody {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly notifyUrl: string;
  readonly returnUrl: string;
}

export type SimulatedPaymentStatus = "requires_payment" | "succeeded" | "declined" | "refunded";

export interface RefundView {
  readonly providerRefundId: string;
  readonly providerPaymentId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  readonly status: "succeeded";
  readonly createdAt: string;
}

export interface PaymentView {
  readonly providerPaymentId: string;
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly status: SimulatedPaymentStatus;
  /** What the buyer paid on confirmation (may differ from amountCents); null until then. */
  readonly paidCents: number | null;
  readonly redirectUrl: string;
  readonly notifyUrl: string;
  readonly returnUrl: string;
  readonly refunds: readonly RefundView[];
  readonly createdAt: string;
}

export interface RefundBody {
  readonly providerPaymentId: string;
  readonly amountCents: number;
}

/** How the notifications of a settlement (or, as the default, of every event) are delivered. */
export interface NotificationBehaviour {
  /** Extra copies of each notification, sent at the same time as the original. */
  readonly duplicates?: number;
  /** Wait this long before the first attempt. */
  readonly delayMs?: number;
  /** Keep them until `POST /test/notifications/release`, which can send them in another order. */
  readonly hold?: boolean;
}

/** `PUT /test/behaviour`: what the simulator does from now on (fields left out are unchanged). */
export interface BehaviourBody {
  readonly notifications?: NotificationBehaviour;
  /** The next N refund calls fail with 503 before doing anything. */
  readonly failRefunds?: number;
  /** The next N refund calls make the refund, then answer 503 as if the answer was lost. */
  readonly loseRefundAnswers?: number;
  /** Every refund call waits this long before answering (after making the refund). */
  readonly refundDelayMs?: number;
}

/** Body of `POST <redirectUrl>/confirm` or `/decline`; all optional. */
export interface SettleBody {
  /** Confirm: the amount the buyer paid, when it should differ from the payment's (a mismatch). */
  readonly amountCents?: number;
  /** Decline: the reason given in the notification (default `card_declined`). */
  readonly reason?: string;
  /** This settlement's notification only. */
  readonly notification?: NotificationBehaviour;
}

/** `POST /test/notifications/release`: send the held notifications, in this order. */
export interface ReleaseBody {
  readonly order?: "created" | "reverse";
}

export type ProviderEventType = "payment.succeeded" | "payment.declined" | "refund.succeeded";

/** A notification's body, as signed and sent. */
export interface ProviderEvent {
  readonly id: string;
  readonly type: ProviderEventType;
  /** Unix seconds. */
  readonly created: number;
  readonly data: {
    readonly providerPaymentId: string;
    readonly paymentId: string;
    readonly orderId: string;
    readonly amountCents: number;
    readonly currency: string;
    readonly reason?: string;
    readonly providerRefundId?: string;
  };
}

export type DeliveryStatus = "held" | "pending" | "delivered" | "refused" | "gave_up";

/** One notification's delivery to one URL, as `GET /test/notifications` lists it. */
export interface DeliveryView {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly type: ProviderEventType;
  readonly providerPaymentId: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  readonly attempts: readonly {
    readonly at: string;
    /** The HTTP status answered, or null when there was no answer (refused connection, timeout). */
    readonly status: number | null;
    readonly error?: string;
    readonly ms: number;
  }[];
}
