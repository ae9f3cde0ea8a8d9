import type { Database } from "../../platform/db/database.js";
import { type DomainEvent, newEvent } from "../../platform/events/domain-event.js";
import { writeOutbox } from "../../platform/events/outbox.js";
import type { ProviderNotification } from "../../platform/payments/payment-provider.js";
import { PAYMENTS_SCHEMA } from "./payment-outbox.js";

/**
 * The payments service's own topic: each notification taken from the provider, on its way from
 * the webhook (which answers as soon as it is stored) to the handler that acts on it.
 */
export const PAYMENT_NOTIFICATIONS_TOPIC = "payments.notifications";

const NOTIFICATION_EVENT = "payment_provider.notification";

/**
 * Where the webhook puts a notification: `payments.webhook_events`, keyed by the provider's event
 * id, and, in the same transaction, an outbox row for the notifications topic. Once that commits
 * the notification cannot be lost (the relay and the consumer take it from there), so the webhook
 * may answer 2xx; and a second delivery of the same event id finds its row and is refused.
 */
export class WebhookInbox {
  constructor(private readonly db: Database) {}

  /** Resolves to false when the event id was taken before (a replay or a redelivery). */
  async store(notification: ProviderNotification): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const stored = await tx.query(
        `INSERT INTO payments.webhook_events (event_id, kind, payment_id, provider_payment_id, notification)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id`,
        [
          notification.eventId,
          notification.kind,
          notification.paymentId,
          notification.providerPaymentId,
          JSON.stringify(notification),
        ],
      );
      if (stored.length === 0) return false;
      await writeOutbox(tx, PAYMENTS_SCHEMA, [
        { topic: PAYMENT_NOTIFICATIONS_TOPIC, event: newEvent(NOTIFICATION_EVENT, { notification }) },
      ]);
      return true;
    });
  }
}

/** The notification an inbox event carries; undefined for anything else. */
export function notificationOf(event: DomainEvent): ProviderNotification | undefined {
  if (event.type !== NOTIFICATION_EVENT) return undefined;
  const notification = event.data.notification as ProviderNotification | undefined;
  if (typeof notification !== "object" || notification === null || typeof notification.kind !== "string")
    return undefined;
  return notification;
}
