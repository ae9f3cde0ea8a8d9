import type { EmailKind } from "./email-kinds.js";

/** What an email says about its order; the fields a kind does not use are absent. */
export interface EmailFacts {
  readonly orderId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly sku?: string;
  readonly quantity?: number;
  readonly trackingNumber?: string;
  /** Why the order was cancelled (order.cancelled's `cause`). */
  readonly cause?: string;
  readonly paymentId?: string;
}

export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** One paragraph of the email, in both forms; `strong` parts are emphasised in HTML. */
type Line = readonly (string | { readonly strong: string })[];

interface Content {
  readonly subject: string;
  readonly heading: string;
  readonly lines: readonly Line[];
}

const SIGNATURE = "— Floodgate";

/**
 * The text and the HTML of an email, from the same lines, so the two never say different things.
 * The HTML carries no styles or scripts: it reads the same in every client, and the dashboard's
 * mail tab shows it under its strict Content-Security-Policy without a complaint.
 */
export function renderEmail(kind: EmailKind, facts: EmailFacts): RenderedEmail {
  const content = CONTENT[kind](facts);
  const text = [
    content.heading,
    "",
    ...content.lines.map((line) =>
      line.map((part) => (typeof part === "string" ? part : part.strong)).join(""),
    ),
    "",
    `Order ${facts.orderId}`,
    SIGNATURE,
    "",
  ].join("\n");
  const html = [
    "<!doctype html>",
    `<html><head><meta charset="utf-8"><title>${escapeHtml(content.subject)}</title></head><body>`,
    `<h1>${escapeHtml(content.heading)}</h1>`,
    ...content.lines.map(
      (line) =>
        `<p>${line
          .map((part) =>
            typeof part === "string" ? escapeHtml(part) : `<strong>${escapeHtml(part.strong)}</strong>`,
          )
          .join("")}</p>`,
    ),
    `<p>Order <code>${escapeHtml(facts.orderId)}</code></p>`,
    `<p>${escapeHtml(SIGNATURE)}</p>`,
    "</body></html>",
    "",
  ].join("\n");
  return { subject: content.subject, text, html };
}

const CONTENT: Readonly<Record<EmailKind, (facts: EmailFacts) => Content>> = {
  order_confirmation: (f) => ({
    subject: `Order ${f.orderId} confirmed: payment received`,
    heading: "Thank you: your order is paid",
    lines: [
      ["We received your payment of ", { strong: money(f) }, " for ", { strong: item(f) }, "."],
      ["We will email you again when it ships."],
    ],
  }),
  shipped: (f) => ({
    subject: `Order ${f.orderId} shipped: tracking number ${f.trackingNumber ?? ""}`,
    heading: "Your order is on its way",
    lines: [
      [{ strong: item(f) }, " left our warehouse."],
      ["Tracking number: ", { strong: f.trackingNumber ?? "" }],
    ],
  }),
  cancelled: (f) => ({
    subject: `Order ${f.orderId} cancelled`,
    heading: "Your order was cancelled",
    lines: [
      [
        "We cancelled your order for ",
        { strong: item(f) },
        f.cause === "payment_timeout"
          ? " because we did not receive its payment in time."
          : ` (${(f.cause ?? "cancelled").replaceAll("_", " ")}).`,
      ],
      ["Nothing was charged, and the items went back on sale."],
    ],
  }),
  payment_refunded: (f) => ({
    subject: `Order ${f.orderId}: your late payment was refunded`,
    heading: "We refunded your payment",
    lines: [
      [
        "Your payment of ",
        { strong: money(f) },
        " arrived after your order had been cancelled for not being paid in time, so we could not take it.",
      ],
      [
        "We refunded it in full",
        f.paymentId ? ` (payment ${f.paymentId})` : "",
        ". The order stays cancelled.",
      ],
    ],
  }),
};

function item(f: EmailFacts): string {
  if (f.sku === undefined) return "your order";
  return f.quantity !== undefined && f.quantity !== 1 ? `${f.quantity} × ${f.sku}` : f.sku;
}

/** Amounts are integer cents: formatted with the currency's symbol, never through a float sum. */
function money(f: EmailFacts): string {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: f.currency }).format(
      f.amountCents / 100,
    );
  } catch {
    // An unknown currency code: say it plainly rather than fail the email.
    return `${(f.amountCents / 100).toFixed(2)} ${f.currency}`;
  }
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}
