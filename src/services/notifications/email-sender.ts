import type { Database } from "../../platform/db/database.js";
import { backoffWithJitter } from "../../platform/events/backoff.js";
import type { Mailer, MailMessage } from "../../platform/mail/mailer.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import { type ClaimedEmail, EmailStore } from "./email-store.js";

const DEFAULT_LEASE_MS = 15_000;

export interface EmailSenderOptions {
  readonly db: Database;
  readonly mailer: Mailer;
  readonly from: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * How long a claim keeps other senders off an email. It is renewed every third of it while the
   * send runs, so a slow SMTP server does not get the email twice, and the emails of a sender that
   * died are taken again this long after its last renewal.
   */
  readonly leaseMs?: number;
  /** Emails claimed at once, and sent concurrently (the SMTP pool holds 4 connections). */
  readonly batch?: number;
  /** How often an idle sender looks for due emails (a recorded email wakes it at once). */
  readonly pollMs?: number;
  /** Backoff between attempts of one email: full jitter from this base, up to the cap. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
}

/**
 * Sends recorded emails: claim the due ones, send each, then mark it sent. Send-then-mark is
 * at-least-once: a process that dies after the SMTP server accepted a message and before the mark
 * commits leaves the email pending, and it is sent again when its claim runs out. That window is
 * the mark's one UPDATE (measured in `notifications_email_mark_seconds`), and a message sent twice
 * carries the same Message-ID. Every other failure is retried with backoff until the server accepts.
 * Claims are leases, renewed while a send runs, so several notifications processes can send from
 * one table without taking the same email at once.
 */
export class EmailSender {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private readonly sent;
  private readonly failed;
  private readonly markSeconds;
  /** Emails being sent now, with their claims' fencing tokens, whose leases the renewer extends. */
  private readonly inFlight = new Map<string, number>();
  private renewer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EmailSenderOptions) {
    const { metrics } = options;
    this.sent = metrics.counter(
      "notifications_emails_sent_total",
      "Emails the mail server accepted, by kind.",
      ["kind"],
    );
    this.failed = metrics.counter(
      "notifications_email_attempts_failed_total",
      "Attempts to send an email that failed and will be retried, by kind.",
      ["kind"],
    );
    this.markSeconds = metrics.histogram(
      "notifications_email_mark_seconds",
      "From the mail server's acceptance of an email to the commit that marks it sent: the window in which a crash sends it twice.",
      [],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    );
  }

  start(): void {
    const { db, logger, leaseMs = DEFAULT_LEASE_MS } = this.options;
    this.running = true;
    this.loop = this.run();
    this.renewer = setInterval(() => {
      const claims = [...this.inFlight].map(([id, attempts]) => ({ id, attempts }));
      EmailStore.extendClaims(db, claims, leaseMs).catch((error: unknown) =>
        logger.warn({ err: error, emails: claims.length }, "renewing claims on emails being sent failed"),
      );
    }, leaseMs / 3);
    this.renewer.unref();
  }

  /** Looks for due emails now instead of at the next poll (an email was just recorded). */
  nudge(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Finishes the attempts in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    clearInterval(this.renewer);
  }

  /** One round: claims due emails and attempts each; resolves to the number claimed. */
  async sendDue(): Promise<number> {
    const { db, leaseMs = DEFAULT_LEASE_MS, batch = 16 } = this.options;
    const claimed = await EmailStore.claimDue(db, batch, leaseMs);
    await Promise.all(
      claimed.map(async (email) => {
        this.inFlight.set(email.id, email.attempts);
        try {
          await this.attempt(email);
        } finally {
          this.inFlight.delete(email.id);
        }
      }),
    );
    return claimed.length;
  }

  private async attempt(email: ClaimedEmail): Promise<void> {
    const { db, mailer, logger, retryBaseMs = 1000, retryCapMs = 10 * 60_000 } = this.options;
    try {
      await mailer.send(this.messageOf(email));
    } catch (error) {
      this.failed.inc({ kind: email.kind });
      const retryInMs = Math.max(retryBaseMs / 2, backoffWithJitter(email.attempts, retryBaseMs, retryCapMs));
      logger.warn(
        {
          err: error,
          emailId: email.id,
          orderId: email.orderId,
          kind: email.kind,
          attempt: email.attempts,
          retryInMs,
        },
        "sending an email failed; it will be retried",
      );
      await EmailStore.markFailed(db, email.id, email.attempts, errorText(error), retryInMs).catch(
        (markError: unknown) =>
          // The claim runs out by itself and the email is tried again then.
          logger.error({ err: markError, emailId: email.id }, "recording a failed attempt failed"),
      );
      return;
    }
    const acceptedAt = performance.now();
    this.sent.inc({ kind: email.kind });
    try {
      const marked = await EmailStore.markSent(db, email.id, email.attempts);
      this.markSeconds.observe((performance.now() - acceptedAt) / 1000);
      if (!marked)
        logger.warn(
          { emailId: email.id, orderId: email.orderId, kind: email.kind },
          "an email was sent after its claim ran out; another sender may have sent it too",
        );
    } catch (error) {
      // Sent but not marked: it will be sent again when the claim runs out (the documented window).
      logger.error({ err: error, emailId: email.id }, "marking a sent email failed; it will be sent again");
    }
  }

  private messageOf(email: ClaimedEmail): MailMessage {
    return {
      id: email.id,
      messageId: email.messageId,
      from: this.options.from,
      to: email.recipient,
      subject: email.subject,
      text: email.text,
      html: email.html,
      date: new Date(email.recordedAt),
      headers: {
        "X-Floodgate-Order-Id": email.orderId,
        "X-Floodgate-Email-Kind": email.kind,
        "X-Floodgate-Email-Id": email.id,
      },
    };
  }

  private async run(): Promise<void> {
    const { pollMs = 500, batch = 16, logger } = this.options;
    let failures = 0;
    while (this.running) {
      this.woken = false;
      let claimed = 0;
      try {
        claimed = await this.sendDue();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 50 === 0)
          logger.error({ err: error, failures }, "looking for emails to send failed");
      }
      // A full batch means more may be due; a nudge while busy means a new email was recorded.
      if (!this.running || (claimed >= batch && failures === 0) || this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures > 0 ? Math.min(10_000, pollMs * 2 ** failures) : pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
