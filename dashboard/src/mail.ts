import { element } from "./dom.js";
import { formatClock } from "./format.js";

/** An email as `GET /admin/mail` lists it (src/services/notifications/mail-routes.ts). */
export interface MailSummary {
  readonly id: string;
  readonly to: string;
  readonly subject: string;
  readonly kind: string;
  readonly orderId: string;
  readonly status: "pending" | "sent";
  readonly attempts: number;
  readonly lastError: string | null;
  readonly recordedAt: string;
  readonly sentAt: string | null;
  readonly messageId: string;
  /** Where the catcher's `.eml` is; null with an SMTP server (or while the email is pending). */
  readonly raw: string | null;
}

interface MailPage {
  readonly messages: readonly MailSummary[];
  readonly nextCursor: string | null;
}

interface MailMessage extends MailSummary {
  readonly text: string;
  readonly html: string;
}

const KINDS: Readonly<Record<string, string>> = {
  order_confirmation: "Order confirmation",
  shipped: "Shipped",
  cancelled: "Cancelled",
  payment_refunded: "Payment refunded",
};

/** The admin token lives in this tab's sessionStorage: gone when the tab closes, never sent elsewhere. */
const TOKEN_KEY = "floodgate.adminToken";
const PAGE_SIZE = 50;
const REFRESH_MS = 5_000;

/** A failed admin call, in words for the page. */
class AdminCallError extends Error {}

/**
 * The mail tab: the built-in mail catcher's emails (`GET /admin/mail`), newest first, and one
 * message at a time (`GET /admin/mail/:id`, its `.eml` from `/raw`). The admin routes need a
 * bearer token, which the page asks for and keeps in sessionStorage; the rest of the dashboard
 * needs none. While the tab is open and no older page is loaded, the list refreshes every 5 s.
 */
export class MailView {
  private readonly tokenInput: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly kindFilter: HTMLSelectElement;
  private readonly rows: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly updated: HTMLElement;
  private readonly detail: HTMLElement;
  private messages: MailSummary[] = [];
  private nextCursor: string | null = null;
  /** Older pages loaded beyond the first. */
  private olderPages = 0;
  private selected: string | undefined;
  private visible = false;
  private timer: number | undefined;
  /** Bumped on every reload, so an answer to an older request is dropped. */
  private generation = 0;

  constructor(container: HTMLElement) {
    const auth = element("section", "panel mail-auth");
    auth.setAttribute("aria-labelledby", "mail-title");
    const title = element("h2", "", "Mail catcher");
    title.id = "mail-title";
    const caption = element(
      "p",
      "caption",
      "Every email the notifications service recorded, as GET /admin/mail lists them; with no SMTP server each is kept as an .eml file. " +
        "These routes need an admin token (npx floodgate token --user ops --admin); the page keeps it in this tab's sessionStorage only.",
    );
    const form = element("form", "mail-token-form");
    this.tokenInput = element("input", "mail-token");
    this.tokenInput.id = "mail-token";
    this.tokenInput.type = "password";
    this.tokenInput.autocomplete = "off";
    this.tokenInput.placeholder = "admin bearer token";
    this.tokenInput.setAttribute("aria-label", "Admin bearer token");
    const use = element("button", "button", "Use token");
    use.type = "submit";
    use.id = "mail-token-use";
    const forget = element("button", "button button-quiet", "Forget");
    forget.type = "button";
    forget.id = "mail-token-forget";
    form.append(this.tokenInput, use, forget);
    this.status = element("p", "mail-status");
    this.status.id = "mail-status";
    this.status.setAttribute("role", "status");
    auth.append(title, caption, form, this.status);

    const list = element("section", "panel mail-list");
    list.setAttribute("aria-label", "Emails, newest first");
    const tools = element("div", "mail-tools");
    this.kindFilter = element("select", "mail-kind");
    this.kindFilter.id = "mail-kind";
    this.kindFilter.setAttribute("aria-label", "Kind");
    this.kindFilter.append(new Option("every kind", ""));
    for (const [kind, label] of Object.entries(KINDS)) this.kindFilter.append(new Option(label, kind));
    const refresh = element("button", "button", "Refresh");
    refresh.type = "button";
    refresh.id = "mail-refresh";
    this.updated = element("span", "mail-updated");
    tools.append(this.kindFilter, refresh, this.updated);
    const table = element("table", "mail-table");
    table.id = "mail-table";
    const head = element("thead", "");
    const headRow = element("tr", "");
    for (const column of ["Recorded", "To", "Subject", "Kind", "Order", "Status"]) {
      headRow.append(element("th", "", column));
    }
    head.append(headRow);
    this.rows = element("tbody", "");
    table.append(head, this.rows);
    this.more = element("button", "button mail-more", "Load older");
    this.more.type = "button";
    this.more.id = "mail-more";
    this.more.hidden = true;
    list.append(tools, table, this.more);

    this.detail = element("section", "panel mail-message");
    this.detail.id = "mail-message";
    this.detail.setAttribute("aria-label", "The selected email");
    this.detail.append(element("p", "empty", "Select an email to read it."));

    const body = element("div", "mail-body");
    body.append(list, this.detail);
    container.append(auth, body);

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.tokenInput.value.trim().replace(/^Bearer\s+/i, "");
      if (token === "") return;
      sessionStorage.setItem(TOKEN_KEY, token);
      this.tokenInput.value = "";
      void this.reload();
    });
    forget.addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      this.clear();
      this.say("No token: paste an admin token to list the emails.");
    });
    refresh.addEventListener("click", () => void this.reload());
    this.kindFilter.addEventListener("change", () => void this.reload());
    this.more.addEventListener("click", () => void this.loadOlder());
  }

  /** Called when the tab is shown or hidden: loads on show, and refreshes only while shown. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    window.clearInterval(this.timer);
    if (!visible) return;
    void this.reload();
    this.timer = window.setInterval(() => {
      // Refreshing would drop the older pages the user asked for; then Refresh is by hand.
      if (this.visible && this.olderPages === 0) void this.reload(true);
    }, REFRESH_MS);
  }

  private token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  private async reload(quiet = false): Promise<void> {
    if (!this.token()) {
      this.clear();
      this.say("No token: paste an admin token to list the emails.");
      return;
    }
    const generation = ++this.generation;
    if (!quiet) this.say("Loading…");
    try {
      const page = await this.get<MailPage>(this.listPath(null));
      if (generation !== this.generation) return;
      this.messages = [...page.messages];
      this.nextCursor = page.nextCursor;
      this.olderPages = 0;
      this.renderRows();
      this.say(
        this.messages.length === 0
          ? "No emails yet."
          : `${this.messages.length}${page.nextCursor ? "+" : ""} emails`,
      );
      this.updated.textContent = `updated ${formatClock(Date.now())}`;
    } catch (error) {
      if (generation !== this.generation) return;
      this.say(messageOf(error), true);
      if (error instanceof AdminCallError) this.clear();
    }
  }

  private async loadOlder(): Promise<void> {
    if (!this.nextCursor) return;
    const generation = ++this.generation;
    try {
      const page = await this.get<MailPage>(this.listPath(this.nextCursor));
      if (generation !== this.generation) return;
      this.messages.push(...page.messages);
      this.nextCursor = page.nextCursor;
      this.olderPages++;
      this.renderRows();
      this.say(`${this.messages.length}${page.nextCursor ? "+" : ""} emails`);
    } catch (error) {
      if (generation === this.generation) this.say(messageOf(error), true);
    }
  }

  private listPath(cursor: string | null): string {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (this.kindFilter.value) query.set("kind", this.kindFilter.value);
    if (cursor) query.set("cursor", cursor);
    return `/admin/mail?${query}`;
  }

  private renderRows(): void {
    const rows = this.messages.map((mail) => {
      const row = element("tr", mail.id === this.selected ? "mail-row selected" : "mail-row");
      row.dataset.id = mail.id;
      row.dataset.kind = mail.kind;
      row.dataset.orderId = mail.orderId;
      row.dataset.status = mail.status;
      row.tabIndex = 0;
      const status = mail.status === "sent" ? "sent" : `pending (${mail.attempts} attempts)`;
      const statusCell = element("td", `mail-cell-status status-${mail.status}`, status);
      if (mail.lastError) statusCell.title = `last error: ${mail.lastError}`;
      row.append(
        element("td", "mail-cell-time", formatWhen(mail.recordedAt)),
        element("td", "mail-cell-to", mail.to),
        element("td", "mail-cell-subject", mail.subject),
        element("td", "mail-cell-kind", KINDS[mail.kind] ?? mail.kind),
        element("td", "mail-cell-order", mail.orderId),
        statusCell,
      );
      const open = () => void this.open(mail.id);
      row.addEventListener("click", open);
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
      return row;
    });
    if (rows.length === 0) {
      const empty = element("tr", "");
      const cell = element("td", "empty", this.token() ? "No emails yet." : "");
      cell.colSpan = 6;
      empty.append(cell);
      rows.push(empty);
    }
    this.rows.replaceChildren(...rows);
    this.more.hidden = this.nextCursor === null;
  }

  private async open(id: string): Promise<void> {
    this.selected = id;
    for (const row of this.rows.querySelectorAll<HTMLElement>("tr.mail-row")) {
      row.classList.toggle("selected", row.dataset.id === id);
    }
    this.detail.replaceChildren(element("p", "empty", "Loading…"));
    try {
      const mail = await this.get<MailMessage>(`/admin/mail/${encodeURIComponent(id)}`);
      if (this.selected === id) this.renderMessage(mail);
    } catch (error) {
      if (this.selected === id) this.detail.replaceChildren(element("p", "mail-error", messageOf(error)));
    }
  }

  private renderMessage(mail: MailMessage): void {
    const heading = element("h2", "mail-subject", mail.subject);
    const facts = element("dl", "mail-facts");
    const fact = (label: string, value: string) => {
      facts.append(element("dt", "", label), element("dd", "", value));
    };
    fact("To", mail.to);
    fact("Kind", KINDS[mail.kind] ?? mail.kind);
    fact("Order", mail.orderId);
    fact(
      "Status",
      mail.status === "sent" ? `sent ${formatWhen(mail.sentAt)}` : `pending, ${mail.attempts} attempts`,
    );
    if (mail.lastError) fact("Last error", mail.lastError);
    fact("Recorded", formatWhen(mail.recordedAt));
    fact("Message-ID", mail.messageId);

    const actions = element("div", "mail-actions");
    const source = element("pre", "mail-source");
    source.hidden = true;
    if (mail.raw) {
      const raw = mail.raw;
      const show = element("button", "button", "Show .eml source");
      show.type = "button";
      show.id = "mail-show-source";
      show.addEventListener("click", async () => {
        try {
          source.textContent = await (await this.call(raw)).text();
          source.hidden = false;
        } catch (error) {
          source.textContent = messageOf(error);
          source.hidden = false;
        }
      });
      const download = element("button", "button", "Download .eml");
      download.type = "button";
      download.addEventListener("click", async () => {
        const blob = await (await this.call(raw)).blob();
        const link = element("a", "");
        link.href = URL.createObjectURL(blob);
        link.download = `${mail.id}.eml`;
        link.click();
        window.setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      });
      actions.append(show, download);
    } else {
      actions.append(element("span", "caption", "No .eml kept (pending, or an SMTP server is set)."));
    }

    // The HTML in a sandbox: no scripts, no same-origin access, under the page's own policy.
    const html = element("iframe", "mail-html");
    html.title = "The email's HTML";
    html.setAttribute("sandbox", "");
    html.srcdoc = mail.html;
    const text = element("pre", "mail-text", mail.text);
    this.detail.replaceChildren(
      heading,
      facts,
      actions,
      element("h3", "outcomes-title", "HTML"),
      html,
      element("h3", "outcomes-title", "Text"),
      text,
      source,
    );
  }

  private async get<T>(path: string): Promise<T> {
    return (await (await this.call(path)).json()) as T;
  }

  private async call(path: string): Promise<Response> {
    const token = this.token();
    if (!token) throw new AdminCallError("No token: paste an admin token to list the emails.");
    let response: Response;
    try {
      response = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: "no-store" });
    } catch {
      throw new Error("The server is not reachable.");
    }
    if (response.ok) return response;
    const code = await response
      .json()
      .then((body: { error?: { code?: string } }) => body.error?.code)
      .catch(() => undefined);
    if (response.status === 401)
      throw new AdminCallError(
        "The token was refused (malformed, signed with another secret, or expired): get a new one with npx floodgate token --user ops --admin.",
      );
    if (response.status === 403) throw new AdminCallError("This token is not an admin's: add --admin.");
    if (code === "route_not_found")
      throw new AdminCallError(
        "This process does not run the notifications service: open the dashboard of the process that does.",
      );
    throw new Error(`The server answered HTTP ${response.status}${code ? ` (${code})` : ""}.`);
  }

  private clear(): void {
    this.messages = [];
    this.nextCursor = null;
    this.selected = undefined;
    this.renderRows();
    this.updated.textContent = "";
    this.detail.replaceChildren(element("p", "empty", "Select an email to read it."));
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle("mail-error", error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** 14:03:07 today; with the date otherwise. */
function formatWhen(iso: string | null): string {
  if (!iso) return "–";
  const at = Date.parse(iso);
  const today = new Date().toDateString() === new Date(at).toDateString();
  return today ? formatClock(at) : new Date(at).toLocaleString("en-GB");
}
