import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DomainEvent } from "../../../src/platform/events/domain-event.js";
import { type SmtpTestServer, startSmtpTestServer } from "../../platform/mail/smtp-test-server.js";
import { serverAvailable } from "../../support/infra.js";
import { eventually } from "../../support/test-server.js";
import {
  newOrder,
  type OrderFacts,
  orderEvent,
  paymentRefunded,
  publishOrderEvents,
  publishPaymentEvents,
} from "./lifecycle-events.js";
import { openServiceProcess, type ServiceProcess } from "./service-process.js";

const PAID_ORDERS = 40;
const CANCELLED_ORDERS = 20;
/** Of the cancelled orders, those whose payment arrived late and was refunded. */
const REFUNDED_LATE = 10;
/** Each SMTP transaction waits this long at MAIL FROM, so the kill lands while emails are on their way. */
const SLOW_SERVER_MS = 40;

const key = (orderId: string, kind: string) => `${orderId}/${kind}`;

/**
 * `kill -9` of the notifications process in the middle of a chain of order events, with every
 * event delivered twice: afterwards each (order, kind) has exactly one email recorded and sent, and
 * the mail server received each. A message can only be received twice if the kill fell between the
 * server's acceptance and the mark (the documented window); such a copy is the same message, byte
 * for byte, and the test reports how many it saw.
 */
describe("notifications process killed with kill -9 mid-chain", async () => {
  const up = (await serverAvailable("nats")) && (await serverAvailable("postgres"));
  let smtp: SmtpTestServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    if (!up) return;
    smtp = await startSmtpTestServer({ mailFromDelayMs: SLOW_SERVER_MS });
    service = await openServiceProcess("notifications", { FLOODGATE_SMTP_URL: smtp.url });
    await service.start();
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await smtp?.close();
  });

  it.skipIf(!up)(
    "leaves one email of each kind per order",
    async () => {
      const paid: OrderFacts[] = Array.from({ length: PAID_ORDERS }, (_, i) => newOrder(`kill-paid-${i}`));
      const cancelled: OrderFacts[] = Array.from({ length: CANCELLED_ORDERS }, (_, i) =>
        newOrder(`kill-cancelled-${i}`),
      );
      const twice = <T>(events: T[]) => events.flatMap((event) => [event, event]);
      const chain = (order: OrderFacts, i: number): DomainEvent<unknown>[] => [
        orderEvent("order.paid", order, { paymentId: `pay_${i}` }),
        orderEvent("order.shipped", order, { trackingNumber: `TRK-KILL-${i}` }),
        orderEvent("order.completed", order, {}),
      ];
      const expected = new Set([
        ...paid.flatMap((order) => [key(order.orderId, "order_confirmation"), key(order.orderId, "shipped")]),
        ...cancelled.map((order) => key(order.orderId, "cancelled")),
        ...cancelled.slice(0, REFUNDED_LATE).map((order) => key(order.orderId, "payment_refunded")),
      ]);

      // The first half of the chains, then kill -9 while their emails are being sent.
      await publishOrderEvents(service.stream, twice(paid.slice(0, PAID_ORDERS / 2).flatMap(chain)));
      await eventually(async () => smtp.received.length >= 10, 30_000, "the first emails to arrive");
      await service.killHard();
      const receivedAtKill = smtp.received.length;
      // Claimed and not marked: the emails the dead process had in hand, taken again once their
      // claims run out.
      const [inHand] = await service.query<{ claimed: string; recorded: string }>(
        `SELECT count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS claimed, count(*) AS recorded
           FROM notifications.emails`,
      );

      // The rest arrives while the process is down; it comes back and carries on.
      await publishOrderEvents(service.stream, twice(paid.slice(PAID_ORDERS / 2).flatMap(chain)));
      // Each cancellation also re-published under a fresh id: only the (order, kind) key stops it.
      const cancellation = (order: OrderFacts) =>
        orderEvent("order.cancelled", order, { cause: "payment_timeout" });
      await publishOrderEvents(
        service.stream,
        cancelled.flatMap((order) => {
          const event = cancellation(order);
          return [event, event, cancellation(order)];
        }),
      );
      await publishPaymentEvents(
        service.stream,
        twice(cancelled.slice(0, REFUNDED_LATE).map((order) => paymentRefunded(order, "order_cancelled"))),
      );
      await service.start();

      const receivedKeys = () =>
        new Set(
          smtp.received.map((mail) =>
            key(mail.header("x-floodgate-order-id") ?? "", mail.header("x-floodgate-email-kind") ?? ""),
          ),
        );
      await eventually(
        async () => receivedKeys().size === expected.size,
        90_000,
        `all ${expected.size} emails (have ${receivedKeys().size})\n${service.output()}`,
      );
      await eventually(
        async () =>
          (
            await service.query<{ pending: string }>(
              "SELECT count(*) AS pending FROM notifications.emails WHERE status <> 'sent'",
            )
          )[0]!.pending === "0",
        30_000,
        "every email marked sent",
      );

      // Recorded: exactly one per (order, kind), each sent.
      const rows = await service.query<{ order_id: string; kind: string }>(
        "SELECT order_id, kind FROM notifications.emails",
      );
      expect(rows).toHaveLength(expected.size);
      expect(new Set(rows.map((row) => key(row.order_id, row.kind)))).toEqual(expected);
      // Received: each of them, nothing else.
      expect(receivedKeys()).toEqual(expected);
      const copies = smtp.received.length - expected.size;
      console.log(
        `kill -9 after ${receivedAtKill} of ${expected.size} emails received, ${inHand!.recorded} recorded and ` +
          `${inHand!.claimed} claimed but not marked; received ${smtp.received.length} in all: ` +
          `${copies} resent from the window between the server's acceptance and the mark`,
      );
      // A copy can only be an email the server accepted as the process died: at most one per SMTP
      // connection in flight (the pool holds 4), and the very same message.
      expect(copies).toBeLessThanOrEqual(4);
      const firstOf = new Map<string, Buffer>();
      for (const mail of smtp.received) {
        const seen = firstOf.get(mail.messageId);
        if (seen) expect(mail.raw.equals(seen), `copy of ${mail.messageId} differs`).toBe(true);
        else firstOf.set(mail.messageId, mail.raw);
      }
      const tracking = smtp.received.find(
        (mail) =>
          mail.header("x-floodgate-order-id") === paid[7]!.orderId &&
          mail.header("x-floodgate-email-kind") === "shipped",
      );
      expect(tracking?.parsed.text).toContain("TRK-KILL-7");
    },
    240_000,
  );
});
