import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import type { Mailer } from "../../platform/mail/mailer.js";
import { ORDER_EVENTS_TOPIC } from "../orders/order-events.js";
import { PAYMENT_EVENTS_TOPIC } from "../payments/payment-events.js";
import type { ServiceModule } from "../service-module.js";
import { NOTIFICATIONS_OPERATIONS, type NotificationsApi } from "./api.js";
import { EmailSender } from "./email-sender.js";
import { registerMailRoutes } from "./mail-routes.js";
import { NotificationHandlers } from "./notification-handlers.js";

/** The built-in mail catcher's folder: one per data dir, shared by every process that uses it. */
export function mailCatcherDir(dataDir: string): string {
  return resolve(dataDir, "mail");
}

/**
 * Emails about an order's life. Two consumers record them (order events; payment refunds after a
 * cancellation) in `notifications.emails`, one per (order, kind), in the transaction that applies
 * the event; the sender delivers them afterwards to FLOODGATE_SMTP_URL, or, unset, to the
 * `.eml` catcher in the data dir that `GET /admin/mail` lists. The service publishes no events.
 */
/** Opens the Mailer the configuration names (the runtime's choice, not the service's). */
export type MailerFactory = (options: { smtpUrl: string | undefined; catcherDir: string }) => Mailer;

export const createNotificationsService = (openMailer: MailerFactory): ServiceModule<NotificationsApi> => ({
  name: "notifications",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: NOTIFICATIONS_OPERATIONS,
  async start(context) {
    const { config, stream, metrics } = context;
    const logger = context.logger.child({ service: "notifications" });
    const db = context.databases.primary;
    const mailer = openMailer({ smtpUrl: config.smtpUrl, catcherDir: mailCatcherDir(config.dataDir) });
    const sender = new EmailSender({ db, mailer, from: config.mailFrom, logger, metrics });
    const handlers = new NotificationHandlers({ ids: context.ids, logger, metrics });
    const wakeSender = async () => sender.nudge();
    const consumers = [
      new EventConsumer({
        stream,
        topic: ORDER_EVENTS_TOPIC,
        group: "notifications.on-orders",
        database: () => db,
        schema: "notifications",
        handle: async (event, tx, afterCommit) => {
          if (await handlers.onOrderEvent(event, tx)) afterCommit(wakeSender);
        },
        types: ["order.paid", "order.shipped", "order.cancelled"],
        logger,
        metrics,
      }),
      new EventConsumer({
        stream,
        topic: PAYMENT_EVENTS_TOPIC,
        group: "notifications.on-payments",
        database: () => db,
        schema: "notifications",
        handle: async (event, tx, afterCommit) => {
          if (await handlers.onPaymentEvent(event, tx)) afterCommit(wakeSender);
        },
        types: ["payment.refunded"],
        logger,
        metrics,
      }),
    ];
    logger.info(
      { mailer: mailer.kind, ...(mailer.kind === "catcher" ? { dir: mailCatcherDir(config.dataDir) } : {}) },
      "notifications mailer",
    );
    sender.start();
    for (const consumer of consumers) consumer.start();
    return {
      api: {},
      routes: (app) => registerMailRoutes(app, { db, mailer, tokens: context.tokens }),
      stop: async () => {
        await Promise.all(consumers.map((consumer) => consumer.stop()));
        await sender.stop();
        await mailer.close();
      },
    };
  },
});
