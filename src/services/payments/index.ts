import { fileURLToPath } from "node:url";
import type { Config } from "../../platform/config/load-config.js";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import { OutboxRelay } from "../../platform/events/outbox.js";
import type { PaymentProvider } from "../../platform/payments/payment-provider.js";
import { ORDER_EVENTS_TOPIC } from "../orders/order-events.js";
import type { ServiceModule } from "../service-module.js";
import { PAYMENTS_OPERATIONS, type PaymentsApi } from "./api.js";
import { NotificationHandler } from "./notification-handler.js";
import { PaymentCheckout } from "./payment-checkout.js";
import { PaymentMetrics } from "./payment-metrics.js";
import { PAYMENTS_SCHEMA } from "./payment-outbox.js";
import { registerPaymentRoutes } from "./payment-routes.js";
import { RefundExecutor } from "./refund-executor.js";
import { RefundRequests } from "./refund-requests.js";
import { PAYMENT_NOTIFICATIONS_TOPIC, WebhookInbox } from "./webhook-inbox.js";
import { registerWebhookRoute } from "./webhook-route.js";

/** Opens the PaymentProvider adapter the configuration names (the runtime's choice, not the service's). */
export type PaymentProviderFactory = (config: Config) => PaymentProvider;

/**
 * The payments service: opens payments at the provider (`POST /orders/:id/payment`), takes the
 * provider's signed notifications (`POST /webhooks/payments`) and turns them into `payments.events`
 * (succeeded, failed, flagged), and refunds what the orders service refuses or an operator asks
 * back. Everything it publishes goes through its outbox; everything it consumes through an
 * idempotent EventConsumer; refunds through a retrying executor.
 */
export function createPaymentsService(openProvider: PaymentProviderFactory): ServiceModule<PaymentsApi> {
  return {
    name: "payments",
    migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
    sharded: false,
    operations: PAYMENTS_OPERATIONS,
    async start(context) {
      const { stream, config, clients } = context;
      const db = context.databases.primary;
      const logger = context.logger.child({ service: "payments" });
      const provider = openProvider(config);
      const metrics = new PaymentMetrics(context.metrics, db);
      const relay = new OutboxRelay({ db, schema: PAYMENTS_SCHEMA, stream, logger });
      const refunds = new RefundExecutor({ db, provider, logger, metrics, onRecorded: () => relay.nudge() });
      // Whatever commits an event nudges the relay: the next step of the chain need not wait for a poll.
      const notifications = new NotificationHandler(logger, metrics, () => relay.nudge());
      const refundRequests = new RefundRequests(logger, () => refunds.nudge());
      const consumers = [
        new EventConsumer({
          stream,
          topic: PAYMENT_NOTIFICATIONS_TOPIC,
          group: "payments.on-notifications",
          database: () => db,
          schema: PAYMENTS_SCHEMA,
          handle: notifications.handle,
          logger,
          metrics: context.metrics,
        }),
        new EventConsumer({
          stream,
          topic: ORDER_EVENTS_TOPIC,
          group: "payments.on-orders",
          database: () => db,
          schema: PAYMENTS_SCHEMA,
          handle: refundRequests.handle,
          types: ["order.payment_refused", "order.refund_requested"],
          logger,
          metrics: context.metrics,
        }),
      ];
      const checkout = new PaymentCheckout({
        db,
        orders: clients.orders,
        provider,
        ids: context.ids,
        logger,
        metrics,
      });
      relay.start();
      for (const consumer of consumers) consumer.start();
      refunds.start();
      const api: PaymentsApi = {};
      return {
        api,
        routes: (app) => {
          // Where the provider and the buyer reach this Floodgate: FLOODGATE_PUBLIC_URL, else this
          // server's own address (known once it listens, which is before any request).
          const publicUrl = () => {
            if (config.publicUrl) return config.publicUrl.replace(/\/+$/, "");
            const address = app.server.address();
            const port = typeof address === "object" && address ? address.port : config.port;
            return `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;
          };
          registerPaymentRoutes(app, { checkout, db, tokens: context.tokens, publicUrl });
          registerWebhookRoute(app, {
            provider,
            inbox: new WebhookInbox(db),
            metrics,
            onStored: () => relay.nudge(),
          });
        },
        stop: async () => {
          await refunds.stop();
          await Promise.all(consumers.map((consumer) => consumer.stop()));
          await relay.stop();
          await provider.close();
        },
      };
    },
  };
}
