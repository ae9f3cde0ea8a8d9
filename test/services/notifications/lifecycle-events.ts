import { type DomainEvent, encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { ORDER_EVENTS_TOPIC, type OrderEventData } from "../../../src/services/orders/order-events.js";
import {
  PAYMENT_EVENTS_TOPIC,
  type PaymentEventData,
} from "../../../src/services/payments/payment-events.js";
import type { TestServer } from "../../support/test-server.js";

/**
 * The order and payment events the notifications and loyalty services consume, made by the test
 * as the orders and payments services would publish them, so these services are tested without
 * the others running.
 */
export interface OrderFacts {
  readonly orderId: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly amountCents: number;
  readonly currency: string;
}

let sequence = 0;

/** A new order's facts; the id is unique in the run and looks like a snowflake (digits). */
export function newOrder(userId: string, amountCents = 3998, quantity = 2): OrderFacts {
  sequence++;
  const orderId = `${Date.now()}${String(process.pid % 1000).padStart(3, "0")}${String(sequence).padStart(4, "0")}`;
  return { orderId, userId, sku: "MAIL-TEE", quantity, amountCents, currency: "EUR" };
}

export function orderEvent<T extends keyof OrderEventData>(
  type: T,
  order: OrderFacts,
  extra: Omit<OrderEventData[T], keyof OrderFacts>,
): DomainEvent<OrderEventData[T]> {
  return newEvent(type, { ...order, ...extra } as OrderEventData[T] & Record<string, unknown>);
}

export function paymentRefunded(
  order: OrderFacts,
  reason: PaymentEventData["payment.refunded"]["reason"],
  paymentId = `pay_${order.orderId}`,
): DomainEvent<PaymentEventData["payment.refunded"]> {
  return newEvent("payment.refunded", {
    paymentId,
    orderId: order.orderId,
    userId: order.userId,
    amountCents: order.amountCents,
    currency: order.currency,
    reason,
  });
}

/** Appends as the relays do; a duplicate of an event is the same event appended again. */
export async function publishOrderEvents(stream: Stream, events: readonly DomainEvent<unknown>[]) {
  for (const event of events) await stream.append(ORDER_EVENTS_TOPIC, encodeEvent(event));
}

export async function publishPaymentEvents(stream: Stream, events: readonly DomainEvent<unknown>[]) {
  for (const event of events) await stream.append(PAYMENT_EVENTS_TOPIC, encodeEvent(event));
}

/** Events a consumer group has finished with (applied, duplicate, or ignored as not its type), from /metrics. */
export async function eventsConsumed(server: Pick<TestServer, "url">, group: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^floodgate_events_consumed_total\{([^}]*)\} (\d+)/.exec(line);
    if (!match || !match[1]!.includes(`group="${group}"`)) continue;
    if (/outcome="(applied|duplicate|ignored)"/.test(match[1]!)) total += Number(match[2]);
  }
  return total;
}
