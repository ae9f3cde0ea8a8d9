import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import type { Database } from "../../platform/db/database.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { decodeCursor, encodeCursor } from "../../platform/http/cursor.js";
import { adminOf } from "../../platform/http/principal.js";
import type { Mailer } from "../../platform/mail/mailer.js";
import { EMAIL_KINDS } from "./email-kinds.js";
import { type EmailRecord, EmailStore } from "./email-store.js";

const LIST_QUERY = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 100, default: 50 },
    cursor: { type: "string", maxLength: 64 },
    kind: { type: "string", enum: [...EMAIL_KINDS] },
    orderId: { type: "string", pattern: "^[0-9]{1,20}$" },
  },
} as const;

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", pattern: "^[0-9]{1,20}$" } },
} as const;

/** What the listing shows of an email: who, what, which order, and where its sending stands. */
function summaryOf(email: EmailRecord, kept: boolean) {
  return {
    id: email.id,
    to: email.recipient,
    subject: email.subject,
    kind: email.kind,
    orderId: email.orderId,
    status: email.status,
    attempts: email.attempts,
    lastError: email.lastError,
    recordedAt: email.recordedAt,
    sentAt: email.sentAt,
    messageId: email.messageId,
    /** The message as kept by the built-in catcher (`message/rfc822`); null with an SMTP server. */
    raw: kept ? `/admin/mail/${email.id}/raw` : null,
  };
}

/**
 * The mail catcher's read side, for admins: `GET /admin/mail` lists every email recorded (newest
 * first, pending ones included, with their attempts and last error), `GET /admin/mail/:id` shows
 * one with its text and HTML, and `GET /admin/mail/:id/raw` answers the `.eml` the catcher kept,
 * byte for byte. With an SMTP server the list and the bodies are still there; the raw file is not.
 */
export function registerMailRoutes(
  app: FastifyInstance,
  deps: { db: Database; mailer: Mailer; tokens: TokenService },
): void {
  const { db, mailer, tokens } = deps;
  const keeps = mailer.kind === "catcher";

  app.get<{ Querystring: { limit: number; cursor?: string; kind?: string; orderId?: string } }>(
    "/admin/mail",
    { schema: { querystring: LIST_QUERY } },
    async (request) => {
      adminOf(request, tokens);
      const { limit, cursor, kind, orderId } = request.query;
      const emails = await EmailStore.list(db, { limit, beforeId: decodeCursor(cursor), kind, orderId });
      const last = emails.at(-1);
      return {
        messages: emails.map((email) => summaryOf(email, keeps && email.status === "sent")),
        nextCursor: emails.length === limit && last ? encodeCursor(last.id) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/admin/mail/:id",
    { schema: { params: ID_PARAMS } },
    async (request) => {
      adminOf(request, tokens);
      const email = await EmailStore.byId(db, request.params.id);
      if (!email) mailNotFound();
      return { ...summaryOf(email, keeps && email.status === "sent"), text: email.text, html: email.html };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/admin/mail/:id/raw",
    { schema: { params: ID_PARAMS } },
    async (request, reply) => {
      adminOf(request, tokens);
      const raw = await mailer.kept(request.params.id);
      if (!raw) mailNotFound();
      return reply
        .type("message/rfc822")
        .header("content-disposition", `inline; filename="${request.params.id}.eml"`)
        .header("x-content-type-options", "nosniff")
        .send(raw);
    },
  );
}

/** 404 for an email that does not exist, or (raw) was not kept. */
function mailNotFound(): never {
  throw new AppError("mail_not_found");
}
