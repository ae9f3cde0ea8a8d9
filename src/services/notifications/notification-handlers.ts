import type { TransactionSql } from "../../platform/db/database.js";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { OrderEventData } from "../orders/order-events.js";
import type { PaymentEventData } from "../payments/payment-events.js";
import type { EmailKind } from "./email-kinds.js";
import { EmailStore } from "./email-store.js";
import { type EmailFacts, renderEmail } from "./email-templates.js";
import { recipientOf } from "./recipient.js";

/** An event that names no order or user cannot become an email: it goes to the dead letters. */
export class UnusableEventError extends Error {
  override readonly name = "UnusableEventError";
}

/**
 * Decides which events call for an email and records it, in the event consumer's transaction: the
 * email is in the table if and only if its event was applied, and the sender takes it from there.
 * Rendering happens here, once, so every attempt sends the same message.
 */
export class NotificationHandlers {
  private readonly recorded;

  constructor(private readonly options: { ids: SnowflakeGenerator; logger: Logger; metrics: Metrics }) {
    this.recorded = options.metrics.counter(
      "notifications_emails_recorded_total",
      "Emails recorded to be sent, by kind and outcome (recorded; duplicate: one of its kind exists for the order).",
      ["kind", "outcome"],
    );
  }

  /** `orders.events`: true when an email was recorded (the sender should look now). */
  async onOrderEvent(event: DomainEvent, tx: TransactionSql): Promise<boolean> {
    switch (event.type) {
      case "order.paid": {
        const data = event.data as unknown as OrderEventData["order.paid"];
        return this.record(tx, event, "order_confirmation", data.userId, facts(data));
      }
      case "order.shipped": {
        const data = event.data as unknown as OrderEventData["order.shipped"];
        if (typeof data.trackingNumber !== "string" || data.trackingNumber === "")
          throw new UnusableEventError(`${event.type} ${event.id} has no tracking number`);
        return this.record(tx, event, "shipped", data.userId, {
          ...facts(data),
          trackingNumber: data.trackingNumber,
        });
      }
      case "order.cancelled": {
        const data = event.data as unknown as OrderEventData["order.cancelled"];
        return this.record(tx, event, "cancelled", data.userId, { ...facts(data), cause: data.cause });
      }
      default:
        return false;
    }
  }

  /** `payments.events`: only a payment refunded because its order was cancelled calls for an email. */
  async onPaymentEvent(event: DomainEvent, tx: TransactionSql): Promise<boolean> {
    if (event.type !== "payment.refunded") return false;
    const data = event.data as unknown as PaymentEventData["payment.refunded"];
    // `requested` refunds are the orders service's business (order.refunded); `already_paid` is a
    // second payment of a paid order, whose buyer has the confirmation already.
    if (data.reason !== "order_cancelled") return false;
    return this.record(tx, event, "payment_refunded", data.userId, {
      orderId: data.orderId,
      amountCents: data.amountCents,
      currency: data.currency,
      paymentId: data.paymentId,
    });
  }

  private async record(
    tx: TransactionSql,
    event: DomainEvent,
    kind: EmailKind,
    userId: unknown,
    emailFacts: EmailFacts,
  ): Promise<boolean> {
    if (typeof emailFacts.orderId !== "string" || emailFacts.orderId === "" || typeof userId !== "string")
      throw new UnusableEventError(`${event.type} ${event.id} names no order or no user`);
    const id = this.options.ids.next(0);
    const rendered = renderEmail(kind, emailFacts);
    const recorded = await EmailStore.record(tx, {
      id,
      orderId: emailFacts.orderId,
      kind,
      userId,
      recipient: recipientOf(userId),
      ...rendered,
      messageId: `<${kind}.${emailFacts.orderId}@notifications.floodgate.invalid>`,
    });
    this.recorded.inc({ kind, outcome: recorded ? "recorded" : "duplicate" });
    if (!recorded)
      this.options.logger.info(
        { orderId: emailFacts.orderId, kind, eventId: event.id },
        "an email of this kind exists for the order already; not recording another",
      );
    return recorded;
  }
}

function facts(data: {
  orderId: string;
  sku: string;
  quantity: number;
  amountCents: number;
  currency: string;
}): EmailFacts {
  return {
    orderId: data.orderId,
    sku: data.sku,
    quantity: data.quantity,
    amountCents: data.amountCents,
    currency: data.currency,
  };
}
