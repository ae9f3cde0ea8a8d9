import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ProviderNotification,
  ProviderRejectedError,
} from "../../../src/platform/payments/payment-provider.js";
import {
  type RunningPaymentSimulator,
  startPaymentSimulator,
} from "../../../src/platform/payments/simulator/simulator-server.js";
import type { DeliveryView, PaymentView } from "../../../src/platform/payments/simulator/simulator-wire.js";
import { SimulatorPaymentProvider } from "../../../src/platform/payments/simulator-payment-provider.js";
import { eventually } from "../../support/test-server.js";

const SECRET = "simulator-test-secret-at-least-32-characters";

interface Received {
  readonly at: number;
  readonly body: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** A webhook receiver that answers each request with the next status of a script (then 200). */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  answers: number[];
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ at: Date.now(), body: Buffer.concat(chunks), headers: request.headers });
      response.statusCode = answers.shift() ?? 200;
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/payments`,
    received,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function json<T>(url: string, method = "GET", body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method,
    ...(body !== undefined
      ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
      : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

describe("the payment simulator", () => {
  let simulator: RunningPaymentSimulator;
  let provider: SimulatorPaymentProvider;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let next = 0;

  const openPayment = async (amountCents = 1500) => {
    const paymentId = `pay-${++next}`;
    const created = await provider.createPayment({
      paymentId,
      orderId: `order-${next}`,
      amountCents,
      currency: "EUR",
      notifyUrl: receiver.url,
      returnUrl: "http://shop.invalid/orders/1",
    });
    return { paymentId, ...created };
  };
  const deliveriesOf = async (providerPaymentId: string) =>
    (
      await json<{ items: DeliveryView[] }>(
        `${simulator.url}/test/notifications?providerPaymentId=${providerPaymentId}`,
      )
    ).body.items;
  const verify = (received: Received): ProviderNotification =>
    provider.verifyNotification({
      rawBody: received.body,
      headers: received.headers,
      now: new Date(),
      toleranceSeconds: 300,
    });

  beforeAll(async () => {
    simulator = await startPaymentSimulator({ secret: SECRET, host: "127.0.0.1", port: 0, retryBaseMs: 200 });
    provider = new SimulatorPaymentProvider({ baseUrl: () => simulator.url, webhookSecret: SECRET });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await provider.close();
    await simulator.close();
    await receiver.close();
  });
  afterEach(async () => {
    await json(`${simulator.url}/test/behaviour`, "PUT", {
      notifications: {},
      failRefunds: 0,
      loseRefundAnswers: 0,
      refundDelayMs: 0,
    });
    receiver.received.length = 0;
    receiver.answers.length = 0;
  });

  it("opens one payment per payment id, serves its checkout page, and notifies a confirmation, signed", async () => {
    const payment = await openPayment();
    const again = await provider.createPayment({
      paymentId: payment.paymentId,
      orderId: `order-${next}`,
      amountCents: 1500,
      currency: "EUR",
      notifyUrl: receiver.url,
      returnUrl: "http://shop.invalid/orders/1",
    });
    expect(again).toEqual({ providerPaymentId: payment.providerPaymentId, redirectUrl: payment.redirectUrl });
    const page = await fetch(payment.redirectUrl);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("15.00 EUR");

    const confirmed = await json<PaymentView>(`${payment.redirectUrl}/confirm`, "POST");
    expect(confirmed.body.status).toBe("succeeded");
    await eventually(async () => receiver.received.length === 1, 5_000, "the notification");
    const notification = verify(receiver.received[0]!);
    expect(notification).toMatchObject({
      kind: "payment_succeeded",
      paymentId: payment.paymentId,
      providerPaymentId: payment.providerPaymentId,
      amountCents: 1500,
      currency: "EUR",
    });
    // A settled payment stays settled.
    expect((await json(`${payment.redirectUrl}/confirm`, "POST")).status).toBe(409);
  });

  it("redelivers with growing gaps until it gets a 2xx, re-signing each attempt", async () => {
    receiver.answers.push(500, 503, 500);
    const payment = await openPayment();
    await json(`${payment.redirectUrl}/decline`, "POST", { reason: "insufficient_funds" });
    await eventually(async () => receiver.received.length === 4, 15_000, "four attempts");
    const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at);
    // Base 200 ms, doubling, equal jitter: each gap is at least half its step (100, 200, 400 ms).
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThanOrEqual(200);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    // Every attempt carries the same event, and a valid signature.
    const ids = receiver.received.map((r) => verify(r).eventId);
    expect(new Set(ids).size).toBe(1);
    expect(verify(receiver.received[3]!)).toMatchObject({
      kind: "payment_declined",
      reason: "insufficient_funds",
    });
    await eventually(
      async () => (await deliveriesOf(payment.providerPaymentId))[0]?.status === "delivered",
      2_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.received).toHaveLength(4);
  });

  it("counts a refused connection as a failed attempt, and ends delivery on a 409", async () => {
    const payment = await openPayment();
    receiver.answers.push(409);
    await json(`${payment.redirectUrl}/confirm`, "POST");
    await eventually(
      async () => (await deliveriesOf(payment.providerPaymentId))[0]?.status === "refused",
      5_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.received).toHaveLength(1);

    const unreachable = await provider.createPayment({
      paymentId: `pay-${++next}`,
      orderId: "order-x",
      amountCents: 100,
      currency: "EUR",
      notifyUrl: "http://127.0.0.1:1/webhooks/payments",
      returnUrl: "http://shop.invalid/",
    });
    await json(`${unreachable.redirectUrl}/confirm`, "POST");
    await eventually(
      async () => ((await deliveriesOf(unreachable.providerPaymentId))[0]?.attempts.length ?? 0) >= 2,
      5_000,
      "a second attempt",
    );
    const [delivery] = await deliveriesOf(unreachable.providerPaymentId);
    expect(delivery?.status).toBe("pending");
    expect(delivery?.attempts[0]?.status).toBeNull();
  });

  it("duplicates, delays, holds and reorders notifications when told to", async () => {
    const duplicated = await openPayment();
    await json(`${duplicated.redirectUrl}/confirm`, "POST", { notification: { duplicates: 2 } });
    await eventually(async () => receiver.received.length === 3, 5_000, "three copies");
    expect(new Set(receiver.received.map((r) => verify(r).eventId)).size).toBe(1);

    receiver.received.length = 0;
    const delayed = await openPayment();
    const confirmedAt = Date.now();
    await json(`${delayed.redirectUrl}/confirm`, "POST", { notification: { delayMs: 800 } });
    await eventually(async () => receiver.received.length === 1, 5_000, "the delayed copy");
    expect(receiver.received[0]!.at - confirmedAt).toBeGreaterThanOrEqual(800);

    receiver.received.length = 0;
    const held = await openPayment();
    await json(`${simulator.url}/test/behaviour`, "PUT", { notifications: { hold: true } });
    await json(`${held.redirectUrl}/decline`, "POST");
    await json(`${held.redirectUrl}/confirm`, "POST");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(0);
    const released = await json<{ released: number }>(`${simulator.url}/test/notifications/release`, "POST", {
      order: "reverse",
    });
    expect(released.body.released).toBe(2);
    expect(receiver.received.map((r) => verify(r).kind)).toEqual(["payment_succeeded", "payment_declined"]);
  });

  it("pays another amount when asked (the mismatch case)", async () => {
    const payment = await openPayment(1500);
    const paid = await json<PaymentView>(`${payment.redirectUrl}/confirm`, "POST", { amountCents: 999 });
    expect(paid.body).toMatchObject({ status: "succeeded", amountCents: 1500, paidCents: 999 });
    await eventually(async () => receiver.received.length === 1, 5_000);
    expect(verify(receiver.received[0]!)).toMatchObject({ kind: "payment_succeeded", amountCents: 999 });
  });

  it("refunds once per idempotency key, and notifies the refund", async () => {
    const payment = await openPayment(2000);
    await json(`${payment.redirectUrl}/confirm`, "POST");
    const request = {
      providerPaymentId: payment.providerPaymentId,
      amountCents: 2000,
      idempotencyKey: "refund-a",
    };
    const first = await provider.refund(request);
    const again = await provider.refund(request);
    expect(again).toEqual(first);
    expect(first.status).toBe("succeeded");
    const view = await json<PaymentView>(`${simulator.url}/v1/payments/${payment.providerPaymentId}`);
    expect(view.body.status).toBe("refunded");
    expect(view.body.refunds).toHaveLength(1);
    await expect(provider.refund({ ...request, idempotencyKey: "refund-b" })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );
    await eventually(
      async () => receiver.received.some((r) => verify(r).kind === "refund_succeeded"),
      5_000,
      "the refund notification",
    );
  });
});

describe("the payment simulator's state file", () => {
  it("keeps payments, refunds and undelivered notifications, and its port, across a restart", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "floodgate-simulator-"));
    const receiver = await startReceiver();
    try {
      let simulator = await startPaymentSimulator({
        secret: SECRET,
        host: "127.0.0.1",
        stateDir,
        retryBaseMs: 200,
      });
      const provider = new SimulatorPaymentProvider({ baseUrl: () => simulator.url, webhookSecret: SECRET });
      const payment = await provider.createPayment({
        paymentId: "kept-1",
        orderId: "order-kept",
        amountCents: 700,
        currency: "EUR",
        notifyUrl: receiver.url,
        returnUrl: "http://shop.invalid/",
      });
      // The receiver fails for now: the notification is still undelivered when the simulator stops.
      receiver.answers.push(500, 500, 500, 500, 500, 500, 500, 500);
      await json(`${payment.redirectUrl}/confirm`, "POST");
      await eventually(async () => receiver.received.length >= 1, 5_000);
      const port = simulator.port;
      await simulator.close();
      receiver.answers.length = 0;
      const attemptsBefore = receiver.received.length;

      simulator = await startPaymentSimulator({
        secret: SECRET,
        host: "127.0.0.1",
        stateDir,
        retryBaseMs: 200,
      });
      expect(simulator.port).toBe(port);
      await eventually(
        async () => receiver.received.length > attemptsBefore,
        10_000,
        "redelivery after restart",
      );
      const view = await json<PaymentView>(`${simulator.url}/v1/payments/${payment.providerPaymentId}`);
      expect(view.body.status).toBe("succeeded");
      await provider.close();
      await simulator.close();
    } finally {
      await receiver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
