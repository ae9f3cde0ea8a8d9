import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RECIPIENT_DOMAIN } from "../../../src/services/notifications/recipient.js";
import { eventually, startTestServer, type TestServer } from "../../support/test-server.js";
import { type ListedMail, listMail } from "./admin-mail.js";
import { eventsConsumed, newOrder, orderEvent, publishOrderEvents } from "./lifecycle-events.js";

/**
 * With no SMTP server configured (the embedded default), every email is kept as an .eml file in
 * the data dir and listed at GET /admin/mail: a built-in mail catcher.
 */
describe("the built-in mail catcher", () => {
  let server: TestServer;
  const order = newOrder("catcher-alice", 4200, 1);
  const other = newOrder("catcher-bob", 100, 1);
  let listed: ListedMail[];

  beforeAll(async () => {
    server = await startTestServer();
    const paid = orderEvent("order.paid", order, { paymentId: "pay_a" });
    const events = [
      paid,
      paid,
      orderEvent("order.paid", order, { paymentId: "pay_a" }),
      orderEvent("order.shipped", order, { trackingNumber: "TRK-CATCH-1" }),
      orderEvent("order.shipped", order, { trackingNumber: "TRK-CATCH-1" }),
      orderEvent("order.cancelled", other, { cause: "payment_timeout" }),
    ];
    await publishOrderEvents(server.running.platform.stream, events);
    await eventually(
      async () => (await eventsConsumed(server, "notifications.on-orders")) >= events.length,
      20_000,
      "the consumer to catch up",
    );
    await eventually(
      async () => {
        listed = await listMail(server);
        return listed.length === 3 && listed.every((mail) => mail.status === "sent");
      },
      20_000,
      "three emails sent",
    );
  }, 60_000);
  afterAll(async () => server?.close());

  it("keeps one .eml file per (order, kind) in the data dir", async () => {
    const files = readdirSync(join(server.dataDir, "mail")).sort();
    expect(files).toEqual(listed.map((mail) => `${mail.id}.eml`).sort());
    const shipped = listed.find((mail) => mail.kind === "shipped")!;
    const parsed = await simpleParser(readFileSync(join(server.dataDir, "mail", `${shipped.id}.eml`)));
    expect(parsed.subject).toBe(`Order ${order.orderId} shipped: tracking number TRK-CATCH-1`);
    expect(parsed.text).toContain("TRK-CATCH-1");
    expect(parsed.html).toContain("TRK-CATCH-1");
  });

  it("lists them at GET /admin/mail, newest first, with recipient, subject, kind, order and time sent", () => {
    expect(listed.map((mail) => [mail.kind, mail.orderId])).toEqual([
      ["cancelled", other.orderId],
      ["shipped", order.orderId],
      ["order_confirmation", order.orderId],
    ]);
    for (const mail of listed) {
      expect(mail.to).toMatch(new RegExp(`^catcher-(alice|bob)@${RECIPIENT_DOMAIN.replaceAll(".", "\\.")}$`));
      expect(mail.subject).toContain(mail.orderId);
      expect(Date.parse(mail.sentAt!)).toBeGreaterThanOrEqual(Date.parse(mail.recordedAt));
      expect(mail.raw).toBe(`/admin/mail/${mail.id}/raw`);
      expect(mail.attempts).toBe(1);
    }
  });

  it("filters by kind and order, and pages with a cursor", async () => {
    expect((await listMail(server, "&kind=shipped")).map((mail) => mail.orderId)).toEqual([order.orderId]);
    expect((await listMail(server, `&orderId=${order.orderId}`)).map((mail) => mail.kind)).toEqual([
      "shipped",
      "order_confirmation",
    ]);
    const first = await server.request<{ messages: ListedMail[]; nextCursor: string }>(
      "GET",
      "/admin/mail?limit=2",
      { user: "ops", admin: true },
    );
    const second = await server.request<{ messages: ListedMail[]; nextCursor: string | null }>(
      "GET",
      `/admin/mail?limit=2&cursor=${first.body.nextCursor}`,
      { user: "ops", admin: true },
    );
    expect([...first.body.messages, ...second.body.messages]).toEqual(listed);
    expect(second.body.nextCursor).toBeNull();
  });

  it("shows one message with its text and HTML, and the .eml as kept", async () => {
    const confirmation = listed.find((mail) => mail.kind === "order_confirmation")!;
    const one = await server.request<ListedMail & { text: string; html: string }>(
      "GET",
      `/admin/mail/${confirmation.id}`,
      { user: "ops", admin: true },
    );
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject(confirmation);
    expect(one.body.text).toContain("€42.00");
    expect(one.body.html).toContain("<h1>Thank you: your order is paid</h1>");

    const raw = await server.request<string>("GET", confirmation.raw!, { user: "ops", admin: true });
    expect(raw.status).toBe(200);
    expect(raw.headers["content-type"]).toBe("message/rfc822");
    const parsed = await simpleParser(Buffer.from(raw.body));
    expect(parsed.messageId).toBe(confirmation.messageId);
    expect(parsed.headers.get("x-floodgate-order-id")).toBe(order.orderId);
  });

  it("is for admins only, and says when there is no such email", async () => {
    expect((await server.request("GET", "/admin/mail")).status).toBe(401);
    expect((await server.request("GET", "/admin/mail", { user: "catcher-alice" })).status).toBe(403);
    expect(
      (await server.request("GET", `/admin/mail/${listed[0]!.id}/raw`, { user: "catcher-alice" })).status,
    ).toBe(403);
    const missing = await server.request("GET", "/admin/mail/123456789", { user: "ops", admin: true });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: "mail_not_found" } });
    expect(
      (await server.request("GET", "/admin/mail/123456789/raw", { user: "ops", admin: true })).status,
    ).toBe(404);
    expect((await server.request("GET", "/admin/mail/..%2Fx/raw", { user: "ops", admin: true })).status).toBe(
      400,
    );
    expect((await server.request("GET", "/admin/mail?kind=spam", { user: "ops", admin: true })).status).toBe(
      400,
    );
  });
});
