import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { renderCheckoutPage } from "./checkout-page.js";
import { NotificationDeliveries } from "./notification-deliveries.js";
import { SimulatorError, SimulatorLedger } from "./simulator-ledger.js";
import { readSimulatorState, type SimulatorState, SimulatorStateWriter } from "./simulator-state-file.js";
import {
  type BehaviourBody,
  type CreatePaymentBody,
  type NotificationBehaviour,
  type RefundBody,
  type ReleaseBody,
  type SettleBody,
  SIMULATOR_PATHS,
} from "./simulator-wire.js";

export interface PaymentSimulatorOptions {
  /** Signs the notifications (Floodgate's FLOODGATE_PAYMENT_WEBHOOK_SECRET). */
  readonly secret: string;
  readonly host: string;
  /** Listen here; unset: the port it had last time in `stateDir`, else a free one. */
  readonly port?: number;
  /**
   * Where it keeps `state.json` (payments, refunds, undelivered notifications, its port) and
   * `address` (its URL, for Floodgate processes sharing the data dir). Unset: memory only.
   */
  readonly stateDir?: string;
  /** Notification redelivery: first retry after about this long, doubling up to the cap. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
}

export interface RunningPaymentSimulator {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const SIMULATOR_STATE_FILE = "state.json";
export const SIMULATOR_ADDRESS_FILE = "address";

const CREATE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["paymentId", "orderId", "amountCents", "currency", "notifyUrl", "returnUrl"],
  properties: {
    paymentId: { type: "string", minLength: 1, maxLength: 128 },
    orderId: { type: "string", minLength: 1, maxLength: 128 },
    amountCents: { type: "integer", minimum: 0 },
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
    notifyUrl: { type: "string", pattern: "^https?://" },
    returnUrl: { type: "string", pattern: "^https?://" },
  },
} as const;

const NOTIFICATION_BEHAVIOUR_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    duplicates: { type: "integer", minimum: 0, maximum: 100 },
    delayMs: { type: "integer", minimum: 0, maximum: 3_600_000 },
    hold: { type: "boolean" },
  },
} as const;

const SETTLE_SCHEMA = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: {
    amountCents: { type: "integer", minimum: 0 },
    reason: { type: "string", maxLength: 200 },
    notification: NOTIFICATION_BEHAVIOUR_SCHEMA,
  },
} as const;

const REFUND_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["providerPaymentId", "amountCents"],
  properties: {
    providerPaymentId: { type: "string", minLength: 1, maxLength: 128 },
    amountCents: { type: "integer", minimum: 1 },
  },
} as const;

const BEHAVIOUR_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    notifications: NOTIFICATION_BEHAVIOUR_SCHEMA,
    failRefunds: { type: "integer", minimum: 0 },
    loseRefundAnswers: { type: "integer", minimum: 0 },
    refundDelayMs: { type: "integer", minimum: 0, maximum: 600_000 },
  },
} as const;

const ID_PARAMS = {
  type: "object",
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,128}$" } },
} as const;

/**
 * A payment provider in test mode, as its own HTTP server (`floodgate payment-simulator`, or
 * started beside the services by `floodgate start`): it opens payments and serves their checkout
 * page, settles them when told to, makes refunds, and notifies the merchant of each with a signed
 * webhook, redelivered until it is taken. Tests steer it through `/test/*`: duplicate, delay, hold
 * and reorder notifications, fail or slow down refunds. It has no API key: bind it to a private
 * address.
 */
export async function startPaymentSimulator(
  options: PaymentSimulatorOptions,
): Promise<RunningPaymentSimulator> {
  const statePath = options.stateDir ? join(options.stateDir, SIMULATOR_STATE_FILE) : undefined;
  const saved = statePath ? readSimulatorState(statePath) : undefined;
  let baseUrl = "";
  const checkoutUrlOf = (providerPaymentId: string) =>
    `${baseUrl}${SIMULATOR_PATHS.checkout}/${providerPaymentId}`;
  const ledger = saved
    ? SimulatorLedger.restore(saved.ledger, checkoutUrlOf)
    : new SimulatorLedger(checkoutUrlOf);
  let port = 0;
  const snapshot = (): SimulatorState => ({
    version: 1,
    port,
    ledger: ledger.snapshot(),
    deliveries: deliveries.snapshot(),
  });
  const writer = statePath ? new SimulatorStateWriter(statePath, snapshot) : undefined;
  const deliveries = new NotificationDeliveries({
    secret: options.secret,
    ...(options.retryBaseMs !== undefined ? { retryBaseMs: options.retryBaseMs } : {}),
    ...(options.retryCapMs !== undefined ? { retryCapMs: options.retryCapMs } : {}),
    onChange: () => writer?.changed(),
  });
  const behaviour = {
    notifications: {} as NotificationBehaviour,
    failRefunds: 0,
    loseRefundAnswers: 0,
    refundDelayMs: 0,
  };

  const app = buildApp({ ledger, deliveries, behaviour, changed: () => writer?.changed() });
  const listenOn = async (wanted: number) => app.listen({ host: options.host, port: wanted });
  const remembered = options.port === undefined ? saved?.port : undefined;
  try {
    await listenOn(options.port ?? remembered ?? 0);
  } catch (error) {
    // The port it had last time is taken now: any port will do (links to the old one go stale).
    if (remembered === undefined || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    await listenOn(0);
  }
  const address = app.server.address();
  port = typeof address === "object" && address ? address.port : 0;
  baseUrl = `http://${options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  // Restored only now: their first attempts must not race the server's own start.
  if (saved) deliveries.restore(saved.deliveries);
  if (options.stateDir) {
    mkdirSync(options.stateDir, { recursive: true });
    writer?.flush();
    writeFileSync(join(options.stateDir, SIMULATOR_ADDRESS_FILE), `${baseUrl}\n`);
  }
  return {
    url: baseUrl,
    port,
    async close() {
      await app.close();
      await deliveries.close();
      writer?.flush();
    },
  };
}

interface SimulatorParts {
  readonly ledger: SimulatorLedger;
  readonly deliveries: NotificationDeliveries;
  readonly behaviour: {
    notifications: NotificationBehaviour;
    failRefunds: number;
    loseRefundAnswers: number;
    refundDelayMs: number;
  };
  readonly changed: () => void;
}

function buildApp({ ledger, deliveries, behaviour, changed }: SimulatorParts): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  // The checkout page's buttons post a form; scripts post JSON or nothing.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => {
      const fields = Object.fromEntries(new URLSearchParams(String(body)));
      const amount = fields.amountCents;
      done(null, amount ? { amountCents: Number(amount) } : {});
    },
  );
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof SimulatorError) {
      return reply.status(error.status).send({ error: { code: error.code, message: error.message } });
    }
    const status = error.statusCode ?? 500;
    return reply
      .status(status)
      .send({ error: { code: status < 500 ? "invalid_request" : "internal_error", message: error.message } });
  });

  // Both probes, as a Floodgate process answers them, so the same readiness checks work on it.
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async () => ({ status: "ready" }));

  app.post<{ Body: CreatePaymentBody; Headers: { "idempotency-key"?: string } }>(
    SIMULATOR_PATHS.payments,
    { schema: { body: CREATE_SCHEMA } },
    async (request, reply) => {
      const key = request.headers["idempotency-key"];
      if (key !== undefined && key !== request.body.paymentId) {
        throw new SimulatorError(400, "invalid_request", "Idempotency-Key must be the paymentId.");
      }
      const { payment, created } = ledger.create(request.body);
      if (created) changed();
      return reply.status(created ? 201 : 200).send(payment);
    },
  );

  app.get<{ Querystring: { orderId?: string } }>(SIMULATOR_PATHS.payments, async (request) => ({
    items: ledger
      .all()
      .filter((payment) => !request.query.orderId || payment.orderId === request.query.orderId),
  }));

  app.get<{ Params: { id: string } }>(
    `${SIMULATOR_PATHS.payments}/:id`,
    { schema: { params: ID_PARAMS } },
    async (request) => ledger.get(request.params.id),
  );

  app.get<{ Params: { id: string } }>(
    `${SIMULATOR_PATHS.checkout}/:id`,
    { schema: { params: ID_PARAMS } },
    async (request, reply) =>
      reply.type("text/html; charset=utf-8").send(renderCheckoutPage(ledger.get(request.params.id))),
  );

  const settle = async (
    outcome: "confirm" | "decline",
    id: string,
    body: SettleBody | null | undefined,
    fromPage: boolean,
    reply: FastifyReply,
  ) => {
    const { payment, event } =
      outcome === "confirm"
        ? ledger.confirm(id, body?.amountCents)
        : ledger.decline(id, body?.reason ?? "card_declined");
    deliveries.enqueue(payment.notifyUrl, event, { ...behaviour.notifications, ...body?.notification });
    changed();
    if (fromPage) return reply.redirect(payment.redirectUrl, 303);
    return payment;
  };
  for (const outcome of ["confirm", "decline"] as const) {
    app.post<{ Params: { id: string }; Body: SettleBody | null; Querystring: { from?: string } }>(
      `${SIMULATOR_PATHS.checkout}/:id/${outcome}`,
      { schema: { params: ID_PARAMS, body: SETTLE_SCHEMA } },
      async (request, reply) =>
        settle(outcome, request.params.id, request.body, request.query.from === "page", reply),
    );
  }

  app.post<{ Body: RefundBody; Headers: { "idempotency-key"?: string } }>(
    SIMULATOR_PATHS.refunds,
    { schema: { body: REFUND_SCHEMA } },
    async (request, reply) => {
      const key = request.headers["idempotency-key"];
      if (!key)
        throw new SimulatorError(400, "idempotency_key_required", "Refunds need an Idempotency-Key header.");
      if (behaviour.failRefunds > 0) {
        behaviour.failRefunds--;
        throw new SimulatorError(503, "unavailable", "Refunds are failing (test behaviour).");
      }
      const { refund, event } = ledger.refund(request.body, key);
      if (event) {
        deliveries.enqueue(ledger.get(refund.providerPaymentId).notifyUrl, event, behaviour.notifications);
        changed();
      }
      if (behaviour.refundDelayMs > 0)
        await new Promise((resolve) => setTimeout(resolve, behaviour.refundDelayMs));
      if (behaviour.loseRefundAnswers > 0) {
        behaviour.loseRefundAnswers--;
        throw new SimulatorError(
          503,
          "unavailable",
          "The refund was made, but this answer is lost (test behaviour).",
        );
      }
      return reply.status(event ? 201 : 200).send(refund);
    },
  );

  app.put<{ Body: BehaviourBody }>(
    SIMULATOR_PATHS.behaviour,
    { schema: { body: BEHAVIOUR_SCHEMA } },
    async (request) => {
      const body = request.body;
      if (body.notifications) behaviour.notifications = body.notifications;
      if (body.failRefunds !== undefined) behaviour.failRefunds = body.failRefunds;
      if (body.loseRefundAnswers !== undefined) behaviour.loseRefundAnswers = body.loseRefundAnswers;
      if (body.refundDelayMs !== undefined) behaviour.refundDelayMs = body.refundDelayMs;
      return behaviour;
    },
  );

  app.get<{ Querystring: { providerPaymentId?: string } }>(
    SIMULATOR_PATHS.notifications,
    async (request) => ({
      items: deliveries
        .list()
        .filter(
          (d) => !request.query.providerPaymentId || d.providerPaymentId === request.query.providerPaymentId,
        ),
    }),
  );

  app.post<{ Body: ReleaseBody | null }>(
    SIMULATOR_PATHS.release,
    {
      schema: {
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: { order: { type: "string", enum: ["created", "reverse"] } },
        },
      },
    },
    async (request) => ({ released: await deliveries.release(request.body?.order ?? "created") }),
  );
  return app;
}
