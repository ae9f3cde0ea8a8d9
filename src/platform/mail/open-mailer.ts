import { openEmlFileMailer } from "./eml-file-mailer.js";
import type { Mailer } from "./mailer.js";
import { openSmtpMailer } from "./smtp-mailer.js";

/**
 * The Mailer FLOODGATE_SMTP_URL names: a real SMTP server, or, unset, the `.eml` catcher in
 * `catcherDir`.
 */
export function openMailer(options: { smtpUrl: string | undefined; catcherDir: string }): Mailer {
  return options.smtpUrl ? openSmtpMailer({ url: options.smtpUrl }) : openEmlFileMailer(options.catcherDir);
}
