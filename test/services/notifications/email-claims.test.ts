import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { openSmtpMailer } from "../../../src/platform/mail/smtp-mailer.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { EmailSender } from "../../../src/services/notifications/email-sender.js";
import { EmailStore } from "../../../src/services/notifications/email-store.js";
import { type SmtpTestServer, startSmtpTestServer } from "../../platform/mail/smtp-test-server.js";
import { eventually } from "../../support/test-server.js";

const EMAILS = 6;
/** Far shorter than one send, so only renewing the claims keeps the other sender off them. */
const LEASE_MS = 300;
const SLOW_SEND_MS = 1_500;

/**
 * Two senders on one table (two notifications processes) and an SMTP server that takes five
 * leases' time per message: every email reaches the server once. Without the renewal of claims
 * while a send runs, the second sender takes each email again when its first lease runs out.
 */
describe("claims on emails being sent", () => {
  let db: Database;
  let smtp: SmtpTestServer;

  beforeAll(async () => {
    db = await openPgliteDatabase({ name: "email-claims" });
    await runMigrations(
      db,
      "notifications",
      join(import.meta.dirname, "../../../src/services/notifications/migrations"),
    );
    smtp = await startSmtpTestServer({ mailFromDelayMs: SLOW_SEND_MS });
  }, 60_000);
  afterAll(async () => {
    await smtp?.close();
    await db?.close();
  });

  it("are renewed while a slow send runs, so a second sender never takes the same email", async () => {
    for (let i = 0; i < EMAILS; i++) {
      await EmailStore.record(db, {
        id: String(1000 + i),
        orderId: `claims-order-${i}`,
        kind: "order_confirmation",
        userId: "claims-user",
        recipient: "claims-user@example.test",
        subject: "Your order",
        text: "text",
        html: "<p>html</p>",
        messageId: `<claims-${i}@floodgate.test>`,
      });
    }
    const logger = createLogger("silent");
    const senders = [0, 1].map(
      () =>
        new EmailSender({
          db,
          mailer: openSmtpMailer({ url: smtp.url }),
          from: "shop@example.test",
          logger,
          metrics: new Metrics({}, { processMetrics: false }),
          leaseMs: LEASE_MS,
          batch: EMAILS,
        }),
    );
    for (const sender of senders) sender.start();
    try {
      await eventually(
        async () =>
          (await db.query("SELECT 1 FROM notifications.emails WHERE status = 'pending'")).length === 0,
        60_000,
        "every email sent",
      );
    } finally {
      for (const sender of senders) await sender.stop();
    }
    const perMessage = new Map<string, number>();
    for (const mail of smtp.received) {
      const id = mail.header("message-id") ?? "";
      perMessage.set(id, (perMessage.get(id) ?? 0) + 1);
    }
    expect(perMessage.size).toBe(EMAILS);
    expect([...perMessage.values()]).toEqual(Array(EMAILS).fill(1));
  }, 90_000);
});
