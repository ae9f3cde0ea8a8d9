import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmlFileMailer } from "../../../src/platform/mail/eml-file-mailer.js";
import type { Mailer, MailMessage } from "../../../src/platform/mail/mailer.js";
import { openSmtpMailer } from "../../../src/platform/mail/smtp-mailer.js";
import { type SmtpTestServer, startSmtpTestServer } from "./smtp-test-server.js";

const message = (id: string): MailMessage => ({
  id,
  messageId: `<${id}@mailer-test.floodgate.invalid>`,
  from: "Floodgate <orders@floodgate.invalid>",
  to: "alice@customers.floodgate.invalid",
  subject: `Order ${id} confirmed: payment received — ünïcödé`,
  text: `Hello Alice\nyour order ${id} is paid.\n`,
  html: `<p>Hello <strong>Alice</strong>, your order <code>${id}</code> is paid.</p>`,
  date: new Date("2026-03-01T12:00:00Z"),
  headers: { "X-Floodgate-Order-Id": id, "X-Floodgate-Email-Kind": "order_confirmation" },
});

/** What every Mailer must do with a message: deliver it whole, text and HTML, headers and all. */
async function expectDelivered(raw: Buffer, sent: MailMessage) {
  const parsed = await simpleParser(raw);
  expect(parsed.messageId).toBe(sent.messageId);
  expect(parsed.subject).toBe(sent.subject);
  expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : "").toBe(sent.to);
  expect(parsed.from?.text).toBe('"Floodgate" <orders@floodgate.invalid>');
  expect(parsed.text).toBe(sent.text);
  expect(parsed.html).toContain("<strong>Alice</strong>");
  expect(parsed.date?.toISOString()).toBe(sent.date.toISOString());
  expect(parsed.headers.get("x-floodgate-order-id")).toBe(sent.id);
}

describe("SMTP mailer (nodemailer) against a real SMTP server", () => {
  let smtp: SmtpTestServer;
  let mailer: Mailer;
  beforeAll(async () => {
    smtp = await startSmtpTestServer();
    mailer = openSmtpMailer({ url: smtp.url });
  });
  afterAll(async () => {
    await mailer?.close();
    await smtp?.close();
  });

  it("resolves once the server accepted the message, text and HTML", async () => {
    const sent = message("1001");
    await mailer.send(sent);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.recipients).toEqual([sent.to]);
    await expectDelivered(smtp.received[0]!.raw, sent);
    expect(await mailer.kept("1001")).toBeUndefined();
  });

  it("rejects when the server refuses the data, and delivers on the next try", async () => {
    smtp.refuseNext(1);
    await expect(mailer.send(message("1002"))).rejects.toThrow(/451/);
    await mailer.send(message("1002"));
    expect(
      smtp.received.filter((mail) => mail.messageId === "<1002@mailer-test.floodgate.invalid>"),
    ).toHaveLength(1);
  });

  it("rejects when no server listens", async () => {
    const closed = openSmtpMailer({ url: "smtp://127.0.0.1:1" });
    await expect(closed.send(message("1003"))).rejects.toThrow();
    await closed.close();
  });
});

describe("the .eml file mail catcher", () => {
  let dir: string;
  let mailer: Mailer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "floodgate-eml-"));
    mailer = openEmlFileMailer(join(dir, "mail"));
  });
  afterAll(async () => {
    await mailer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps each message as <id>.eml, exactly as it would go over SMTP", async () => {
    const sent = message("2001");
    await mailer.send(sent);
    expect(readdirSync(join(dir, "mail"))).toEqual(["2001.eml"]);
    const raw = (await mailer.kept("2001"))!;
    expect(raw.toString("latin1")).toMatch(/\r\n\r\n/); // CRLF, as on the wire
    await expectDelivered(raw, sent);
  });

  it("keeps one file per email however often it is sent, with the same bytes", async () => {
    await mailer.send(message("2002"));
    const first = await mailer.kept("2002");
    await mailer.send(message("2002"));
    expect(await mailer.kept("2002")).toEqual(first);
    expect(readdirSync(join(dir, "mail")).sort()).toEqual(["2001.eml", "2002.eml"]);
  });

  it("refuses ids that are not plain names, and knows nothing of them", async () => {
    await expect(mailer.send(message("../escape"))).rejects.toThrow(/not a mail id/);
    expect(await mailer.kept("../2001")).toBeUndefined();
    expect(await mailer.kept("9999")).toBeUndefined();
  });
});
