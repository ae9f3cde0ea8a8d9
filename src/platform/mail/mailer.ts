/**
 * One email, complete: what was decided when it was recorded is what every attempt sends, so a
 * message sent twice (a retry after a crash, see the notifications service) is the same message
 * with the same Message-ID, which mail clients show once.
 */
export interface MailMessage {
  /** Stable id of this email; the `.eml` catcher names its file after it. Digits, letters, `-`, `_`. */
  readonly id: string;
  /** The RFC 5322 Message-ID, angle brackets included. */
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** The Date header: when the email was recorded, not when this attempt runs. */
  readonly date: Date;
  /** Extra headers (`X-…`), for the catcher's listing and for people reading the source. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Where emails go: a real SMTP server, or the built-in catcher that keeps each as an `.eml` file.
 * `send` resolves only once the message is safe on the other side (the SMTP server answered 250
 * to the data, or the file is fsync'd) and rejects otherwise; the caller retries.
 */
export interface Mailer {
  /** `smtp`, or `catcher` when messages are kept in files instead of being delivered. */
  readonly kind: "smtp" | "catcher";
  send(message: MailMessage): Promise<void>;
  /** The raw message (RFC 5322) as kept by the catcher; undefined when not kept (SMTP keeps nothing). */
  kept(id: string): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

const MAIL_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isMailId(id: string): boolean {
  return MAIL_ID.test(id);
}
