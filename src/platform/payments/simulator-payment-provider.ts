import { Agent, request } from "undici";
import {
  type CreatedPayment,
  type CreatePaymentRequest,
  NotificationRejectedError,
  type PaymentProvider,
  type ProviderNotification,
  ProviderRejectedError,
  ProviderUnavailableError,
  type ReceivedNotification,
  type RefundRequest,
  type RefundResult,
} from "./payment-provider.js";
import {
  type CreatePaymentBody,
  type PaymentView,
  type ProviderEvent,
  type RefundBody,
  type RefundView,
  SIMULATOR_PATHS,
} from "./simulator/simulator-wire.js";
import { SIGNATURE_HEADER, verifySignature } from "./webhook-signature.js";

export interface SimulatorPaymentProviderOptions {
  /**
   * The simulator's base URL, asked for on every call: the bundled simulator may have moved to
   * another port since this process started (it publishes its address in the data dir).
   */
  readonly baseUrl: () => string;
  /** The secret both sides know: the simulator signs with it, this adapter verifies with it. */
  readonly webhookSecret: string;
  readonly timeoutMs?: number;
}

/**
 * The PaymentProvider adapter for the payment simulator's HTTP API (`floodgate payment-simulator`,
 * or the one `floodgate start` runs). Idempotency keys travel as `Idempotency-Key` headers;
 * notifications are verified with HMAC-SHA256 (webhook-signature.ts).
 */
export class SimulatorPaymentProvider implements PaymentProvider {
  private readonly agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  private readonly timeoutMs: number;

  constructor(private readonly options: SimulatorPaymentProviderOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async createPayment(payment: CreatePaymentRequest): Promise<CreatedPayment> {
    const body: CreatePaymentBody = payment;
    const view = await this.call<PaymentView>("POST", SIMULATOR_PATHS.payments, body, payment.paymentId);
    return { providerPaymentId: view.providerPaymentId, redirectUrl: view.redirectUrl };
  }

  async refund(refund: RefundRequest): Promise<RefundResult> {
    const body: RefundBody = { providerPaymentId: refund.providerPaymentId, amountCents: refund.amountCents };
    const view = await this.call<RefundView>("POST", SIMULATOR_PATHS.refunds, body, refund.idempotencyKey);
    return { providerRefundId: view.providerRefundId, status: view.status };
  }

  verifyNotification(notification: ReceivedNotification): ProviderNotification {
    verifySignature({
      secret: this.options.webhookSecret,
      rawBody: notification.rawBody,
      header: notification.headers[SIGNATURE_HEADER],
      now: notification.now,
      toleranceSeconds: notification.toleranceSeconds,
    });
    return toNotification(notification.rawBody);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(method: "POST", path: string, body: object, idempotencyKey: string): Promise<T> {
    const url = `${this.options.baseUrl()}${path}`;
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(url, {
        method,
        dispatcher: this.agent,
        headers: { "content-type": "application/json", "idempotency-key": idempotencyKey },
        body: JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      text = await response.body.text();
    } catch (error) {
      throw new ProviderUnavailableError(`payment provider at ${url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return JSON.parse(text) as T;
    const error = parseError(text);
    if (response.statusCode >= 500 || response.statusCode === 429) {
      throw new ProviderUnavailableError(
        `payment provider answered ${response.statusCode}: ${error.message}`,
      );
    }
    throw new ProviderRejectedError(response.statusCode, error.code, error.message);
  }
}

function parseError(text: string): { code: string; message: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return { code: parsed.error?.code ?? "unknown", message: parsed.error?.message ?? text };
  } catch {
    return { code: "unknown", message: text.slice(0, 200) };
  }
}

const NOTIFICATION_KINDS = {
  "payment.succeeded": "payment_succeeded",
  "payment.declined": "payment_declined",
  "refund.succeeded": "refund_succeeded",
} as const;

/** The simulator's event, as Floodgate's notification; anything else is refused as malformed. */
function toNotification(rawBody: Buffer): ProviderNotification {
  let event: ProviderEvent;
  try {
    event = JSON.parse(rawBody.toString("utf8")) as ProviderEvent;
  } catch {
    throw new NotificationRejectedError("malformed", "The notification body is not JSON.");
  }
  const data = event?.data;
  const kind = NOTIFICATION_KINDS[event?.type as keyof typeof NOTIFICATION_KINDS];
  if (
    !kind ||
    typeof event.id !== "string" ||
    typeof event.created !== "number" ||
    typeof data !== "object" ||
    data === null ||
    typeof data.providerPaymentId !== "string" ||
    typeof data.paymentId !== "string" ||
    !Number.isSafeInteger(data.amountCents) ||
    typeof data.currency !== "string"
  ) {
    throw new NotificationRejectedError(
      "malformed",
      "The notification is not a payment event this adapter knows.",
    );
  }
  const facts = {
    eventId: event.id,
    occurredAt: new Date(event.created * 1000).toISOString(),
    providerPaymentId: data.providerPaymentId,
    paymentId: data.paymentId,
  };
  switch (kind) {
    case "payment_succeeded":
      return { ...facts, kind, amountCents: data.amountCents, currency: data.currency };
    case "payment_declined":
      return { ...facts, kind, reason: data.reason ?? "declined" };
    case "refund_succeeded":
      if (typeof data.providerRefundId !== "string") {
        throw new NotificationRejectedError("malformed", "A refund notification must name its refund.");
      }
      return {
        ...facts,
        kind,
        providerRefundId: data.providerRefundId,
        amountCents: data.amountCents,
        currency: data.currency,
      };
  }
}
