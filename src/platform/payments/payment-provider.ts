/**
 * PaymentProvider port: what Floodgate needs from a payment provider (a card processor, a wallet).
 * The payments service speaks only this interface; the runtime picks the adapter. To plug in a
 * real provider, write an adapter beside `simulator-payment-provider.ts` that:
 *
 * - `createPayment`: opens a payment (a checkout session, a payment intent) for an amount and
 *   returns where to send the buyer. It must be idempotent on `paymentId`: asking again for the
 *   same `paymentId` returns the same provider payment, never a second one (send it as the
 *   provider's idempotency key). The provider must echo `paymentId` in its notifications (as its
 *   "merchant reference" or metadata), which is how a notification finds its payment.
 * - `refund`: gives money back. It must be idempotent on `idempotencyKey`: the payments service
 *   retries a refund whose answer it never got (a timeout, a crash) with the same key, and the
 *   provider must answer with the refund it already made instead of making another.
 * - `verifyNotification`: authenticates a notification (webhook) from the raw bytes and headers
 *   exactly as received, and translates it into a `ProviderNotification`. It throws
 *   `NotificationRejectedError` for a missing or wrong signature and for a timestamp outside
 *   `toleranceSeconds` of `now` (a captured notification replayed later). It does not know which
 *   notifications were seen before: refusing a replayed event id is the payments service's job,
 *   done by a unique key where the notification is stored.
 *
 * Errors: `ProviderUnavailableError` when the provider could not be reached or failed (the call
 * may or may not have happened: retry with the same idempotency key), `ProviderRejectedError` when
 * it refused the request (retrying the same request will not help).
 */
export interface PaymentProvider {
  createPayment(request: CreatePaymentRequest): Promise<CreatedPayment>;
  refund(request: RefundRequest): Promise<RefundResult>;
  verifyNotification(notification: ReceivedNotification): ProviderNotification;
  close(): Promise<void>;
}

export interface CreatePaymentRequest {
  /** Floodgate's id of the payment; the idempotency key of the creation, echoed in notifications. */
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  /** ISO 4217, e.g. `EUR`. */
  readonly currency: string;
  /** Where the provider sends its signed notifications (Floodgate's `POST /webhooks/payments`). */
  readonly notifyUrl: string;
  /** Where the checkout page sends the buyer back afterwards. */
  readonly returnUrl: string;
}

export interface CreatedPayment {
  readonly providerPaymentId: string;
  /** The provider's checkout page for this payment. */
  readonly redirectUrl: string;
}

export interface RefundRequest {
  readonly providerPaymentId: string;
  readonly amountCents: number;
  /** The same key for every attempt at one refund: the provider makes it once. */
  readonly idempotencyKey: string;
}

export interface RefundResult {
  readonly providerRefundId: string;
  /**
   * `succeeded`: the money went back. `pending`: accepted, and a `refund_succeeded` notification
   * will follow.
   */
  readonly status: "succeeded" | "pending";
}

export interface ReceivedNotification {
  /** The request body exactly as received: the signature covers these bytes. */
  readonly rawBody: Buffer;
  /** Request headers, names in lower case (as Node gives them). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly now: Date;
  /** Notifications signed longer ago than this (or this far ahead) are refused as stale. */
  readonly toleranceSeconds: number;
}

interface NotificationFacts {
  /** The provider's id of this notification: unique, the same on every redelivery. */
  readonly eventId: string;
  /** When the provider created the event (not when it delivered it). */
  readonly occurredAt: string;
  readonly providerPaymentId: string;
  /** Floodgate's payment id, as given to `createPayment`. */
  readonly paymentId: string;
}

/** A verified notification, in Floodgate's terms. */
export type ProviderNotification =
  | (NotificationFacts & {
      readonly kind: "payment_succeeded";
      /** What the buyer actually paid: it may differ from what was asked. */
      readonly amountCents: number;
      readonly currency: string;
    })
  | (NotificationFacts & { readonly kind: "payment_declined"; readonly reason: string })
  | (NotificationFacts & {
      readonly kind: "refund_succeeded";
      readonly providerRefundId: string;
      readonly amountCents: number;
      readonly currency: string;
    });

export type NotificationKind = ProviderNotification["kind"];

/** Why a notification was not believed. */
export type NotificationRejection =
  /** No signature header, or one that cannot be read. */
  | "signature_missing"
  /** No signature in the header matches the body: forged, altered, or signed with another secret. */
  | "signature_mismatch"
  /** Signed outside the tolerance: an old notification replayed, or a clock far off. */
  | "stale"
  /** Correctly signed, but not a notification this adapter understands. */
  | "malformed";

export class NotificationRejectedError extends Error {
  override readonly name = "NotificationRejectedError";

  constructor(
    readonly reason: NotificationRejection,
    message: string,
  ) {
    super(message);
  }
}

/** The provider could not be reached, timed out or failed: the request may or may not have been applied. */
export class ProviderUnavailableError extends Error {
  override readonly name = "ProviderUnavailableError";
}

/** The provider refused the request (unknown payment, nothing left to refund…): retrying it unchanged will not help. */
export class ProviderRejectedError extends Error {
  override readonly name = "ProviderRejectedError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
