import type { PaymentView } from "./simulator-wire.js";

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

/**
 * The checkout page at a payment's redirect URL: what a buyer sees at a provider in test mode.
 * Its two buttons post to the same `/confirm` and `/decline` endpoints a script would call (with
 * `?from=page`, so the browser comes back here to see the outcome).
 */
export function renderCheckoutPage(payment: PaymentView): string {
  const settled = payment.status !== "requires_payment" && payment.status !== "declined";
  const base = escapeHtml(payment.redirectUrl);
  const actions = settled
    ? `<p><a href="${escapeHtml(payment.returnUrl)}">Back to the shop</a></p>`
    : `<form method="post" action="${base}/confirm?from=page"><button>Pay ${escapeHtml(money(payment.amountCents, payment.currency))}</button></form>
  <form method="post" action="${base}/decline?from=page"><button>Decline</button></form>`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Payment simulator — checkout</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
form{display:inline-block;margin-right:.5rem}button{font-size:1rem;padding:.5rem 1rem}
.note{color:#666;font-size:.9rem}</style></head>
<body>
  <h1>Test-mode checkout</h1>
  <p>Order <code>${escapeHtml(payment.orderId)}</code></p>
  <p>Amount: <strong>${escapeHtml(money(payment.amountCents, payment.currency))}</strong></p>
  <p>Status: <strong>${escapeHtml(payment.status)}</strong>${payment.paidCents !== null ? ` (paid ${escapeHtml(money(payment.paidCents, payment.currency))})` : ""}</p>
  ${actions}
  <p class="note">Floodgate's payment simulator: no money moves. Scripts can POST ${base}/confirm
  (optionally with {"amountCents": n}) or ${base}/decline.</p>
</body>
</html>
`;
}
