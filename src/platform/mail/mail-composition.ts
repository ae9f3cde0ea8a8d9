import { createHash } from "node:crypto";
import type { SendMailOptions } from "nodemailer";
import type { MailMessage } from "./mailer.js";

/**
 * The nodemailer message for a MailMessage: the same for every adapter, so SMTP and files agree.
 * The MIME boundary, random by default, is derived from the email's id: an email composed twice
 * is the same bytes, so a resend after a crash is the very same message.
 */
export function composeMail(message: MailMessage): SendMailOptions {
  const options: SendMailOptions & { baseBoundary: string } = {
    messageId: message.messageId,
    date: message.date,
    from: message.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: { ...message.headers },
    baseBoundary: createHash("sha256").update(message.messageId).digest("hex").slice(0, 16),
  };
  return options;
}
