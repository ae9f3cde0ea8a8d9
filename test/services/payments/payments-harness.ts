import { randomBytes } from "node:crypto";
import type { SettingKey } from "../../../src/platform/config/settings.js";
import { type DomainEvent, decodeEvent } from "../../../src/platform/events/domain-event.js";
import {
  type RunningPaymentSimulator,
  startPaymentSimulator,
} from "../../../src/platform/payments/simulator/simulator-server.js";
import type {
  BehaviourBody,
  DeliveryView,
  PaymentView,
  ProviderEvent,
  SettleBody,
} from "../../../src/platform/payments/simulator/simulator-wire.js";
import { SIGNATURE_HEADER, signNotification } from "../../../src/platform/payments/webhook-signature.js";
import type { ConsumerGroup } from "../../../src/platform/queue/stream.js";
import { PAYMENT_EVENTS_TOPIC } from "../../../src/services/payments/payment-events.js";
import { openSale, startTestServer, type TestServer } from "../../support/test-server.js";

export const WEBHOOK_SECRET = "payments-test-webhook-secret-of-32-chars-or-more";

/** A paid order moves on by itself when the fulfilment service runs too. */
export const PAID_OR_LATER = ["paid", "shipped", "completed"];

export interface OrderView {
  readonly id: string;
  readonly status: string;
  readonly history: { status: string; cause: string; paymentId?: string }[];
}

export interface OpenedPayment {
  readonly paymentId: string;
  readonly redirectUrl: string;
}

/**
 * An embedded Floodgate (every service in the test's process) whose payments go to a payment
 * simulator on a port of its own, as `floodgate start` runs them; a sale to buy from; and a reader
 * of `payments.events` that keeps every event published, to count them.
 */
export interface PaymentsHarness {
  readonly server: TestServer;
  readonly simulator: RunningPaymentSimulator;
  readonly sku: string;
  /** Every payments.events event so far, in order. */
  readonly paymentEvents: DomainEvent[];
  /** Places an order for `user` and waits until it is stored (`created`). */
  createdOrder(user: string): Promise<string>;
  order(orderId: string): Promise<OrderView>;
  /** `paid` also accepts what follows it (the fulfilment service ships a paid order at once). */
  waitForStatus(orderId: string, status: string, timeoutMs?: number): Promise<OrderView>;
  pay(orderId: string, user: string): Promise<OpenedPayment>;
  settle(payment: OpenedPayment, outcome: "confirm" | "decline", body?: SettleBody): Promise<PaymentView>;
  simulatorPayment(redirectUrl: string): Promise<PaymentView>;
  deliveries(redirectUrl: string): Promise<DeliveryView[]>;
  behave(behaviour: BehaviourBody): Promise<void>;
  /** Posts a notification to the webhook, signed with the secret at `timestampSeconds` (default now). */
  postNotification(
    event: ProviderEvent,
    options?: { timestampSeconds?: number; secret?: string },
  ): Promise<{ status: number; body: { error?: { code: string } } }>;
  eventsOf(type: string, paymentId: string): DomainEvent[];
  sql<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

async function json<T>(url: string, method = "GET", body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    ...(body !== undefined
      ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
      : {}),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export async function startPaymentsHarness(
  overrides: Partial<Record<SettingKey, string>> = {},
): Promise<PaymentsHarness> {
  const simulator = await startPaymentSimulator({
    secret: WEBHOOK_SECRET,
    host: "127.0.0.1",
    port: 0,
    retryBaseMs: 200,
    retryCapMs: 2_000,
  });
  const server = await startTestServer({
    paymentProviderUrl: simulator.url,
    paymentWebhookSecret: WEBHOOK_SECRET,
    ...overrides,
  });
  const sku = `PAY-${randomBytes(3).toString("hex").toUpperCase()}`;
  await openSale(server, { sku, stock: 1000, perUserLimit: 10 });

  const paymentEvents: DomainEvent[] = [];
  const audit: ConsumerGroup = server.running.platform.stream.group(PAYMENT_EVENTS_TOPIC, "test-audit", {
    visibilityTimeoutMs: 60_000,
    maxAttempts: 1000,
  });
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const deliveries = await audit.fetch(100, 100).catch(() => []);
      for (const delivery of deliveries) {
        const event = decodeEvent(delivery.data);
        if (event) paymentEvents.push(event);
        await delivery.ack();
      }
    }
  })();

  const harness: PaymentsHarness = {
    server,
    simulator,
    sku,
    paymentEvents,
    async createdOrder(user) {
      const placed = await server.request<{ orderId: string }>("POST", "/orders", {
        user,
        body: { sku, quantity: 1 },
      });
      if (placed.status !== 202) throw new Error(`placing an order failed: ${JSON.stringify(placed.body)}`);
      await harness.waitForStatus(placed.body.orderId, "created");
      return placed.body.orderId;
    },
    async order(orderId) {
      const found = await server.request<OrderView>("GET", `/orders/${orderId}`, {
        user: "ops",
        admin: true,
      });
      return found.body;
    },
    async waitForStatus(orderId, status, timeoutMs = 20_000) {
      const wanted = status === "paid" ? PAID_OR_LATER : [status];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const order = await harness.order(orderId);
        if (wanted.includes(order.status)) return order;
        if (Date.now() > deadline) {
          throw new Error(
            `order ${orderId} did not become ${status} in ${timeoutMs} ms: ${JSON.stringify(order)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async pay(orderId, user) {
      const opened = await server.request<OpenedPayment>("POST", `/orders/${orderId}/payment`, { user });
      if (opened.status !== 201 && opened.status !== 200) {
        throw new Error(`opening a payment failed: ${opened.status} ${JSON.stringify(opened.body)}`);
      }
      return opened.body;
    },
    settle: (payment, outcome, body) =>
      json<PaymentView>(`${payment.redirectUrl}/${outcome}`, "POST", body ?? {}),
    simulatorPayment: (redirectUrl) =>
      json<PaymentView>(`${simulator.url}/v1/payments/${redirectUrl.split("/").at(-1)}`),
    async deliveries(redirectUrl) {
      const id = redirectUrl.split("/").at(-1);
      return (
        await json<{ items: DeliveryView[] }>(`${simulator.url}/test/notifications?providerPaymentId=${id}`)
      ).items;
    },
    async behave(behaviour) {
      await json(`${simulator.url}/test/behaviour`, "PUT", behaviour);
    },
    async postNotification(event, options = {}) {
      const body = JSON.stringify(event);
      const timestamp = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
      return server.request("POST", "/webhooks/payments", {
        rawBody: body,
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signNotification(options.secret ?? WEBHOOK_SECRET, body, timestamp),
        },
      });
    },
    eventsOf: (type, paymentId) =>
      paymentEvents.filter((event) => event.type === type && event.data.paymentId === paymentId),
    sql: (text, params) => server.running.platform.databases.primary.query(text, params),
    async close() {
      reading = false;
      await reader;
      await audit.close();
      await server.close();
      await simulator.close();
    },
  };
  return harness;
}

/** A success notification for a payment, as the simulator would send it. */
export function successEvent(
  payment: { paymentId: string; providerPaymentId: string; orderId: string },
  amountCents: number,
  id = `evt_test_${randomBytes(6).toString("hex")}`,
): ProviderEvent {
  return {
    id,
    type: "payment.succeeded",
    created: Math.floor(Date.now() / 1000),
    data: { ...payment, amountCents, currency: "EUR" },
  };
}
