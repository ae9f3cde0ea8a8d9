import type { FastifyInstance } from "fastify";
import { AppError } from "../../platform/errors/catalogue.js";
import {
  NotificationRejectedError,
  type PaymentProvider,
  type ProviderNotification,
} from "../../platform/payments/payment-provider.js";
import type { PaymentMetrics, WebhookOutcome } from "./payment-metrics.js";
import type { WebhookInbox } from "./webhook-inbox.js";

/** Notifications signed further than this from now are refused (the 5 minutes). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface WebhookRouteDeps {
  readonly provider: PaymentProvider;
  readonly inbox: WebhookInbox;
  readonly metrics: PaymentMetrics;
  /** Called once a notification is stored, so it is relayed and handled at once. */
  readonly onStored: () => void;
}

const REJECTIONS = {
  signature_missing: { code: "webhook_signature_invalid", outcome: "signature_invalid" },
  signature_mismatch: { code: "webhook_signature_invalid", outcome: "signature_invalid" },
  stale: { code: "webhook_stale", outcome: "stale" },
  malformed: { code: "webhook_malformed", outcome: "malformed" },
} as const;

/**
 * `POST /webhooks/payments`: the provider's signed notifications. The signature is checked over
 * the body's exact bytes, so this route keeps them (its own JSON parser, in a scope of its own).
 * It answers 202 as soon as the notification and its inbox event are committed (WebhookInbox),
 * and acts on it later (NotificationHandler): a burst of notifications costs the provider one
 * insert each, not the work they cause. Answers: 400 for a bad signature, a stale timestamp or a
 * body it cannot read; 409 for an event id taken before (the provider may stop redelivering it).
 */
export function registerWebhookRoute(app: FastifyInstance, deps: WebhookRouteDeps): void {
  void app.register(async (scope) => {
    scope.removeContentTypeParser("application/json");
    scope.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) =>
      done(null, body),
    );
    scope.post("/webhooks/payments", async (request, reply) => {
      const started = process.hrtime.bigint();
      let outcome: WebhookOutcome = "error";
      try {
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        let notification: ProviderNotification;
        try {
          notification = deps.provider.verifyNotification({
            rawBody,
            headers: request.headers,
            now: new Date(),
            toleranceSeconds: WEBHOOK_TOLERANCE_SECONDS,
          });
        } catch (error) {
          if (!(error instanceof NotificationRejectedError)) throw error;
          const rejection = REJECTIONS[error.reason];
          outcome = rejection.outcome;
          throw AppError.refusal(rejection.code, error.message);
        }
        if (!(await deps.inbox.store(notification))) {
          outcome = "replayed";
          throw AppError.refusal("webhook_replayed");
        }
        outcome = "stored";
        deps.onStored();
        return reply.status(202).send({ received: true, eventId: notification.eventId });
      } finally {
        deps.metrics.webhook(outcome, Number(process.hrtime.bigint() - started) / 1e9);
      }
    });
  });
}
