import nodemailer from "nodemailer";
import { composeMail } from "./mail-composition.js";
import type { Mailer, MailMessage } from "./mailer.js";

export interface SmtpMailerOptions {
  /** `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers it) or `smtps://…` (TLS). */
  readonly url: string;
  /** Connections kept open to the server; sends beyond this wait for one. */
  readonly maxConnections?: number;
}

/**
 * Bounds on one send: a server that stops answering fails the attempt, which is then retried,
 * instead of holding the email (and its claim, see EmailSender) for ever.
 */
export const SMTP_TIMEOUTS_MS = { connection: 10_000, greeting: 10_000, socketIdle: 30_000 } as const;

/** Sends through a real SMTP server with nodemailer, over a small pool of kept-open connections. */
export function openSmtpMailer(options: SmtpMailerOptions): Mailer {
  const url = new URL(options.url);
  const secure = url.protocol === "smtps:";
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: options.maxConnections ?? 4,
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined,
    connectionTimeout: SMTP_TIMEOUTS_MS.connection,
    greetingTimeout: SMTP_TIMEOUTS_MS.greeting,
    socketTimeout: SMTP_TIMEOUTS_MS.socketIdle,
  });
  return {
    kind: "smtp",
    async send(message: MailMessage) {
      // nodemailer rejects when the server refuses the sender, every recipient or the data; it
      // resolves only after the server's 250 to the data, which is its promise to deliver.
      const info = await transport.sendMail(composeMail(message));
      if (info.rejected.length > 0) {
        throw new Error(`the SMTP server refused ${info.rejected.join(", ")}: ${info.response}`);
      }
    },
    async kept() {
      return undefined;
    },
    async close() {
      transport.close();
    },
  };
}
