import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RECIPIENT_DOMAIN } from "../../../src/services/notifications/recipient.js";
import {
  type ReceivedMail,
  type SmtpTestServer,
  startSmtpTestServer,
} from "../../platform/mail/smtp-test-server.js";
import { eventually, startTestServer, type TestServer } from "../../support/test-server.js";
import { listMail } from "./admin-mail.js";
import {
  eventsConsumed,
  newOrder,
  type OrderFacts,
  orderEvent,
  paymentRefunded,
  publishOrderEvents,
  publishPaymentEvents,
} from "./lifecycle-events.js";

/**
 * The notifications service in a running Floodgate, sending through a real SMTP server the test
 * starts, every message read back with mailparser. The order and payment events are the ones the
 * orders and payments services publish, appended by the test to the server's own stream.
 */
describe("notification emails over SMTP", () => {
  let smtp: SmtpTestServer;
  let server: TestServer;
  const consumed = { orders: 0, payments: 0 };

  beforeAll(async () => {
    smtp = await startSmtpTestServer();
    server = await startTestServer({ smtpUrl: smtp.url });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  const stream = () => server.running.platform.stream;
  /** Publishes, waits until the consumers are done with it and the sender has nothing pending. */
  const publish = async (orders: Parameters<typeof publishOrderEvents>[1], payments: typeof orders = []) => {
    await publishOrderEvents(stream(), orders);
    await publishPaymentEvents(stream(), payments);
    consumed.orders += orders.length;
    consumed.payments += payments.length;
    await eventually(
      async () =>
        (await eventsConsumed(server, "notifications.on-orders")) >= consumed.orders &&
        (await eventsConsumed(server, "notifications.on-payments")) >= consumed.payments,
      20_000,
      "the notification consumers to catch up",
    );
    await eventually(
      async () => (await listMail(server)).every((mail) => mail.status === "sent"),
      20_000,
      "every recorded email sent",
    );
  };
  const received = (order: OrderFacts, kind?: string): ReceivedMail[] =>
    smtp.received.filter(
      (mail) =>
        mail.header("x-floodgate-order-id") === order.orderId &&
        (kind === undefined || mail.header("x-floodgate-email-kind") === kind),
    );

  it("sends the confirmation, the shipping notice with its tracking number, and the cancellation, each as text and HTML", async () => {
    const paid = newOrder("mail-alice", 3998, 2);
    const cancelled = newOrder("mail-alice", 1999, 1);
    await publish([
      orderEvent("order.created", paid, { paymentDueAt: new Date().toISOString() }),
      orderEvent("order.paid", paid, { paymentId: "pay_1" }),
      orderEvent("order.shipped", paid, { trackingNumber: "TRK-123456789" }),
      orderEvent("order.completed", paid, {}),
      orderEvent("order.cancelled", cancelled, { cause: "payment_timeout" }),
    ]);

    const [confirmation] = received(paid, "order_confirmation");
    expect(confirmation).toBeDefined();
    expect(confirmation!.recipients).toEqual([`mail-alice@${RECIPIENT_DOMAIN}`]);
    expect(confirmation!.to).toBe(`mail-alice@${RECIPIENT_DOMAIN}`);
    expect(confirmation!.subject).toBe(`Order ${paid.orderId} confirmed: payment received`);
    expect(confirmation!.parsed.from?.text).toContain("orders@floodgate.invalid");
    expect(confirmation!.parsed.text).toContain("€39.98");
    expect(confirmation!.parsed.text).toContain("2 × MAIL-TEE");
    expect(confirmation!.parsed.html).toContain(`<code>${paid.orderId}</code>`);

    const [shipped] = received(paid, "shipped");
    expect(shipped!.subject).toBe(`Order ${paid.orderId} shipped: tracking number TRK-123456789`);
    expect(shipped!.parsed.text).toContain("Tracking number: TRK-123456789");
    expect(shipped!.parsed.html).toContain("<strong>TRK-123456789</strong>");

    const [cancellation] = received(cancelled, "cancelled");
    expect(cancellation!.subject).toBe(`Order ${cancelled.orderId} cancelled`);
    expect(cancellation!.parsed.text).toContain("did not receive its payment in time");
    expect(cancellation!.parsed.html).toContain("did not receive its payment in time");

    // Created and completed call for no email.
    expect(received(paid)).toHaveLength(2);
    expect(received(cancelled)).toHaveLength(1);
  });

  it("tells the buyer why a payment that arrived after the cancellation was refunded, and only then", async () => {
    const late = newOrder("mail-bob", 2500, 1);
    const requested = newOrder("mail-bob", 2500, 1);
    await publish(
      [orderEvent("order.cancelled", late, { cause: "payment_timeout" })],
      [paymentRefunded(late, "order_cancelled", "pay_late"), paymentRefunded(requested, "requested")],
    );
    const [refund] = received(late, "payment_refunded");
    expect(refund!.to).toBe(`mail-bob@${RECIPIENT_DOMAIN}`);
    expect(refund!.subject).toBe(`Order ${late.orderId}: your late payment was refunded`);
    expect(refund!.parsed.text).toContain("arrived after your order had been cancelled");
    expect(refund!.parsed.text).toContain("€25.00");
    expect(refund!.parsed.text).toContain("pay_late");
    expect(received(requested)).toHaveLength(0);
  });

  it("sends one email per (order, kind), however often and under however many ids its event arrives", async () => {
    const order = newOrder("mail-carol", 1000, 1);
    const paid = orderEvent("order.paid", order, { paymentId: "pay_c" });
    const shipped = orderEvent("order.shipped", order, { trackingNumber: "TRK-C" });
    // Redeliveries of the same events, and the same facts re-published under fresh ids (with a
    // different tracking number even): the processed-event keys absorb the first, the unique key
    // on (order, kind) the second.
    await publish(
      [
        paid,
        paid,
        orderEvent("order.paid", order, { paymentId: "pay_c" }),
        shipped,
        orderEvent("order.shipped", order, { trackingNumber: "TRK-C2" }),
        shipped,
        orderEvent("order.cancelled", order, { cause: "payment_timeout" }),
        orderEvent("order.cancelled", order, { cause: "payment_timeout" }),
      ],
      [paymentRefunded(order, "order_cancelled"), paymentRefunded(order, "order_cancelled", "pay_other")],
    );
    const kinds = received(order).map((mail) => mail.header("x-floodgate-email-kind"));
    expect(kinds.sort()).toEqual(["cancelled", "order_confirmation", "payment_refunded", "shipped"]);
    expect(received(order, "shipped")[0]!.parsed.text).toContain("TRK-C\n");
    const listed = await listMail(server, `&orderId=${order.orderId}`);
    expect(listed).toHaveLength(4);
  });

  it("retries with backoff while the SMTP server refuses, until it accepts, and sends once", async () => {
    const order = newOrder("mail-dave", 500, 1);
    const refusedBefore = smtp.refused();
    smtp.refuseNext(2);
    await publish([orderEvent("order.paid", order, { paymentId: "pay_d" })]);
    expect(smtp.refused() - refusedBefore).toBe(2);
    expect(received(order)).toHaveLength(1);
    const [listed] = await listMail(server, `&orderId=${order.orderId}`);
    expect(listed).toMatchObject({ status: "sent", attempts: 3, lastError: null, raw: null });
    expect(listed!.sentAt).not.toBeNull();
  });

  it("marks an email sent within milliseconds of the server's acceptance (the duplicate window), and counts emails by kind", async () => {
    const metrics = (await server.request<string>("GET", "/metrics")).body;
    const sentOf = (kind: string) =>
      Number(
        new RegExp(`^floodgate_notifications_emails_sent_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(
          metrics,
        )?.[1],
      );
    // alice: confirmation, shipped, cancelled; bob: cancelled, refund; carol: one of each; dave:
    // confirmation.
    expect(sentOf("order_confirmation")).toBe(3);
    expect(sentOf("shipped")).toBe(2);
    expect(sentOf("cancelled")).toBe(3);
    expect(sentOf("payment_refunded")).toBe(2);
    expect(smtp.received).toHaveLength(10);

    // The window, seen from the mail server: from its 250 to the commit that marked the email sent
    // (sent_at is the marking transaction's start, so this is a lower bound on the commit).
    const listed = await listMail(server);
    const windows = smtp.received.map((mail) => {
      const row = listed.find((entry) => entry.id === mail.header("x-floodgate-email-id"))!;
      return Date.parse(row.sentAt!) - mail.acceptedAt;
    });
    const count = Number(/^floodgate_notifications_email_mark_seconds_count (\d+)/m.exec(metrics)?.[1]);
    const sum = Number(/^floodgate_notifications_email_mark_seconds_sum ([\d.e-]+)/m.exec(metrics)?.[1]);
    console.log(
      `duplicate window: server 250 -> mark started ${Math.max(...windows)} ms at most; ` +
        `send resolved -> mark committed ${((sum / count) * 1000).toFixed(2)} ms on average over ${count}`,
    );
    expect(count).toBe(10);
    expect(Math.max(...windows)).toBeLessThan(1000);
  });
});
