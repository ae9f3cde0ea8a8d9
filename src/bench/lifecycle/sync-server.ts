/**
 * The `sync` baseline of `floodgate bench lifecycle`: the payment webhook most people would write
 * first, as its own small node:http server. Per notification, before it answers: check the
 * signature, then in one transaction store the payment (its event id unique: a replay gets 409),
 * mark the order paid and create its shipment; send the confirmation email (the same `.eml` catcher
 * Floodgate uses: composed, written, fsync'd, renamed); record the email and the points. No queue,
 * no outbox, no consumer. It runs the same payment simulator in its own process, as `floodgate
 * start` does, so the notifications are sent and timed alike. PGlite in a temporary directory, or
 * PostgreSQL through `pg` (pool of 10) in a schema of its own, dropped at the end. Child entry
 * point, started by sync-target.ts.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Database } from "../../platform/db/database.js";
import { openPgDatabase } from "../../platform/db/pg-database.js";
import { openPgliteDatabase } from "../../platform/db/pglite-database.js";
import { openEmlFileMailer } from "../../platform/mail/eml-file-mailer.js";
import { NotificationRejectedError } from "../../platform/payments/payment-provider.js";
import { startPaymentSimulator } from "../../platform/payments/simulator/simulator-server.js";
import type { ProviderEvent } from "../../platform/payments/simulator/simulator-wire.js";
import { SIGNATURE_HEADER, verifySignature } from "../../platform/payments/webhook-signature.js";

export interface SyncServerConfig {
  readonly webhookSecret: string;
  /** postgres:// URL, or null for PGlite in `dataDir`. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly mailDir: string;
  /** Points per whole currency unit, as FLOODGATE_LOYALTY_POINTS_PER_CURRENCY_UNIT. */
  readonly pointsPerUnit: number;
}

/** What a sync server sends over IPC once it listens. */
export interface SyncServerReady {
  readonly type: "ready";
  readonly port: number;
  readonly simulatorUrl: string;
}

const BODY_LIMIT_BYTES = 1_048_576;
const POOL_SIZE = 10;
const TOLERANCE_SECONDS = 300;

const config = JSON.parse(process.argv[2] ?? "{}") as SyncServerConfig;
const schema = `bench_sync_${process.pid}_${randomBytes(4).toString("hex")}`;
const db: Database = config.databaseUrl
  ? await openPgDatabase({ url: config.databaseUrl, name: "sync", poolSize: POOL_SIZE })
  : await openPgliteDatabase({ dataDir: config.dataDir, name: "sync" });
await db.exec(`
  CREATE SCHEMA ${schema};
  CREATE TABLE ${schema}.orders (
    id text PRIMARY KEY, user_id text NOT NULL, amount_cents integer NOT NULL, currency text NOT NULL,
    status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE ${schema}.payments (
    event_id text PRIMARY KEY, provider_payment_id text NOT NULL, order_id text NOT NULL,
    amount_cents integer NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE ${schema}.shipments (
    order_id text PRIMARY KEY, tracking text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE ${schema}.emails (
    id text PRIMARY KEY, order_id text NOT NULL, kind text NOT NULL, sent_at timestamptz NOT NULL);
  CREATE TABLE ${schema}.points (
    id bigserial PRIMARY KEY, order_id text NOT NULL, user_id text NOT NULL, kind text NOT NULL,
    points integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`);
const mailer = openEmlFileMailer(config.mailDir);

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    request.once("end", () => resolve(size <= BODY_LIMIT_BYTES ? Buffer.concat(chunks) : undefined));
    request.once("error", reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

const failure = (code: string, message: string) => ({ error: { code, message } });

/** Everything a paid order causes, inline: the webhook answers only after all of it. */
async function handleNotification(raw: Buffer, signature: string | string[] | undefined) {
  try {
    verifySignature({
      secret: config.webhookSecret,
      rawBody: raw,
      header: signature,
      now: new Date(),
      toleranceSeconds: TOLERANCE_SECONDS,
    });
  } catch (error) {
    if (error instanceof NotificationRejectedError)
      return { status: 400, body: failure("webhook_signature_invalid", error.message) };
    throw error;
  }
  const event = JSON.parse(raw.toString("utf8")) as ProviderEvent;
  if (event.type !== "payment.succeeded") return { status: 202, body: { received: true } };
  const { orderId, providerPaymentId, amountCents } = event.data;
  const order = await db.transaction(async (tx) => {
    const stored = await tx.query(
      `INSERT INTO ${schema}.payments (event_id, provider_payment_id, order_id, amount_cents)
       VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      [event.id, providerPaymentId, orderId, amountCents],
    );
    if (stored.length === 0) return "replayed" as const;
    const [row] = await tx.query<{ user_id: string; amount_cents: number; status: string }>(
      `SELECT user_id, amount_cents, status FROM ${schema}.orders WHERE id = $1 FOR UPDATE`,
      [orderId],
    );
    if (row === undefined || row.status !== "created" || row.amount_cents !== amountCents)
      return "refused" as const;
    await tx.query(`UPDATE ${schema}.orders SET status = 'paid', updated_at = now() WHERE id = $1`, [
      orderId,
    ]);
    await tx.query(`INSERT INTO ${schema}.shipments (order_id, tracking) VALUES ($1, $2)`, [
      orderId,
      `TRK${randomBytes(6).toString("hex").toUpperCase()}`,
    ]);
    await tx.query(`UPDATE ${schema}.orders SET status = 'shipped', updated_at = now() WHERE id = $1`, [
      orderId,
    ]);
    return { userId: row.user_id, amountCents: row.amount_cents };
  });
  if (order === "replayed") return { status: 409, body: failure("webhook_replayed", "Taken before.") };
  if (order === "refused") return { status: 202, body: { received: true, refused: true } };
  const emailId = `confirmation-${orderId}`;
  await mailer.send({
    id: emailId,
    messageId: `<${emailId}@sync.bench.invalid>`,
    from: "shop@sync.bench.invalid",
    to: `${order.userId}@customers.floodgate.invalid`,
    subject: `Order ${orderId} is paid`,
    text: `Thank you: order ${orderId} is paid (${(order.amountCents / 100).toFixed(2)} EUR) and on its way.`,
    html: `<p>Thank you: order ${orderId} is paid (${(order.amountCents / 100).toFixed(2)} EUR) and on its way.</p>`,
    date: new Date(),
  });
  await db.query(
    `INSERT INTO ${schema}.emails (id, order_id, kind, sent_at) VALUES ($1, $2, 'order_confirmation', now())`,
    [emailId, orderId],
  );
  await db.query(
    `INSERT INTO ${schema}.points (order_id, user_id, kind, points) VALUES ($1, $2, 'award', $3)`,
    [orderId, order.userId, Math.floor(order.amountCents / 100) * config.pointsPerUnit],
  );
  return { status: 200, body: { received: true } };
}

async function seed(body: Buffer) {
  const { orders } = JSON.parse(body.toString("utf8")) as {
    orders: { id: string; userId: string; amountCents: number }[];
  };
  await db.transaction(async (tx) => {
    for (const order of orders) {
      await tx.query(
        `INSERT INTO ${schema}.orders (id, user_id, amount_cents, currency, status) VALUES ($1, $2, $3, 'EUR', 'created')`,
        [order.id, order.userId, order.amountCents],
      );
    }
  });
  return { status: 201, body: { seeded: orders.length } };
}

/** Everything the bench checks afterwards, in one answer. */
async function audit() {
  const [orders, payments, shipments, emails, points] = await Promise.all([
    db.query(`SELECT id, status FROM ${schema}.orders`),
    db.query(`SELECT order_id AS "orderId" FROM ${schema}.payments`),
    db.query(`SELECT order_id AS "orderId" FROM ${schema}.shipments`),
    db.query(`SELECT order_id AS "orderId", kind, sent_at AS "sentAt" FROM ${schema}.emails`),
    db.query(`SELECT order_id AS "orderId", kind, points FROM ${schema}.points`),
  ]);
  return { status: 200, body: { orders, payments, shipments, emails, points } };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  if (body === undefined) return send(response, 413, failure("payload_too_large", "Body too large."));
  const route = `${request.method} ${request.url}`;
  const answer =
    route === "POST /webhooks/payments"
      ? await handleNotification(body, request.headers[SIGNATURE_HEADER])
      : route === "POST /seed"
        ? await seed(body)
        : route === "GET /audit"
          ? await audit()
          : route === "GET /readyz"
            ? { status: 200, body: { status: "ready" } }
            : { status: 404, body: failure("route_not_found", `No route ${route}.`) };
  send(response, answer.status, answer.body);
}

const simulator = await startPaymentSimulator({ secret: config.webhookSecret, host: "127.0.0.1" });
const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    process.stderr.write(`sync: request failed: ${String(error)}\n`);
    if (!response.headersSent) send(response, 500, failure("internal_error", "Something went wrong."));
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.send?.({ type: "ready", port, simulatorUrl: simulator.url } satisfies SyncServerReady);
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => {
    void (async () => {
      await simulator.close();
      await mailer.close();
      await db.exec(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      await db.close();
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stopping failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
