import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/platform/config/load-config.js";
import type { SettingKey } from "../../src/platform/config/settings.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { type RunningTracing, startTracing, tracer } from "../../src/platform/observability/tracing.js";
import { type RunningGateway, runGateway } from "../../src/runtime/run-gateway.js";
import { type RunningProcess, runServices } from "../../src/runtime/run-services.js";
import { freePort } from "../support/child-server.js";
import { serverAvailable, servers } from "../support/infra.js";
import { deleteStreams } from "../support/nats-streams.js";
import { bearer, eventually, SECRET } from "./gateway-fixture.js";

const natsUp = await serverAvailable("nats");

/**
 * One order's trace across processes: the gateway, an orders process and an inventory process
 * (here in one test process, each with its own HTTP server, talking over HTTP), the order queue
 * on NATS JetStream (which carries the trace in message headers), and the order worker. Spans go
 * to an in-memory exporter; the test checks each span's parent.
 */
describe.skipIf(!natsUp)("tracing one order from the gateway to the worker", () => {
  const exporter = new InMemorySpanExporter();
  const dir = mkdtempSync(join(tmpdir(), "floodgate-tracing-"));
  const queuePrefix = `fgtrace${Date.now().toString(36)}`;
  let tracing: RunningTracing;
  const processes: RunningProcess[] = [];
  let gateway: RunningGateway;

  beforeAll(async () => {
    tracing = startTracing({ serviceName: "floodgate-test", exporter, sampleRatio: 1 });
    const [backPort, ordersPort] = [await freePort(), await freePort()];
    const back = `http://127.0.0.1:${backPort}`;
    const orders = `http://127.0.0.1:${ordersPort}`;
    const serviceUrls = `catalog=${back},inventory=${back},sales=${back},orders=${orders}`;
    const common: Partial<Record<SettingKey, string>> = {
      // Processes on one loopback, internal calls on the public port (production would want internal ports).
      env: "development",
      authSecret: SECRET,
      serviceUrls,
      seedDemo: "false",
      logLevel: "silent",
      queueUrl: servers.nats.url,
      queuePrefix,
    };
    const start = (overrides: Partial<Record<SettingKey, string>>) => {
      const config = loadConfig({ env: {}, overrides: { ...common, ...overrides } });
      return runServices(config, createLogger(config.logLevel));
    };
    processes.push(
      await start({
        services: "catalog,inventory,sales",
        port: String(backPort),
        dataDir: join(dir, "back"),
        workerId: "11",
      }),
    );
    processes.push(
      await start({
        services: "orders",
        port: String(ordersPort),
        dataDir: join(dir, "orders"),
        workerId: "12",
      }),
    );
    const config = loadConfig({
      env: {},
      overrides: {
        port: "0",
        authSecret: SECRET,
        serviceUrls,
        logLevel: "silent",
        gatewayHealthIntervalMs: "200",
      },
    });
    gateway = await runGateway(config, createLogger("silent"));
  });

  afterAll(async () => {
    await gateway?.close();
    for (const running of processes.reverse()) await running.close();
    await tracing?.shutdown();
    await deleteStreams(servers.nats.url, `${queuePrefix.toUpperCase()}_`);
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, authorization: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("links gateway → orders → inventory → stream → worker in one trace", async () => {
    const admin = bearer("ops", true);
    expect(
      (
        await call("POST", "/admin/products", admin, {
          sku: "TRACE-1",
          name: "T",
          priceCents: 100,
          currency: "EUR",
        })
      ).status,
    ).toBe(201);
    const sale = await call("POST", "/admin/sales", admin, {
      sku: "TRACE-1",
      stock: 5,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(sale.status).toBe(201);
    exporter.reset();

    const placed = await call("POST", "/orders", bearer("tracer"), { sku: "TRACE-1", quantity: 1 });
    expect(placed.status).toBe(202);
    const spans = () => exporter.getFinishedSpans();
    await eventually(() => {
      expect(spans().some((span) => span.name === "orders.requested process")).toBe(true);
    }, 20_000);

    const root = spans().find((span) => span.name === "POST /orders" && !span.parentSpanContext)!;
    expect(root, "the gateway's server span").toBeDefined();
    const inTrace = spans().filter((span) => span.spanContext().traceId === root.spanContext().traceId);
    const one = (name: string, kind: SpanKind, parent: ReadableSpan) => {
      const found = inTrace.filter(
        (span) =>
          span.name === name &&
          span.kind === kind &&
          span.parentSpanContext?.spanId === parent.spanContext().spanId,
      );
      expect(
        found.map((span) => span.name),
        `${name} under ${parent.name}`,
      ).toHaveLength(1);
      return found[0]!;
    };
    expect(root.kind).toBe(SpanKind.SERVER);
    const proxied = one("POST upstream", SpanKind.CLIENT, root);
    const intake = one("POST /orders", SpanKind.SERVER, proxied);
    const reserve = one("inventory.reserve", SpanKind.CLIENT, intake);
    one("POST /internal/inventory/reserve", SpanKind.SERVER, reserve);
    const publish = one("orders.requested publish", SpanKind.PRODUCER, intake);
    const processed = one("orders.requested process", SpanKind.CONSUMER, publish);
    expect(processed.attributes["floodgate.delivery.outcome"]).toBe("ack");
  });

  it("puts the trace id on log lines written inside a span", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger("info", {}, sink);
    const span = tracer().startSpan("logging");
    context.with(trace.setSpan(context.active(), span), () => logger.info("inside"));
    span.end();
    logger.info("outside");
    const [inside, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(inside).toMatchObject({
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
    });
    expect(outside).not.toHaveProperty("trace_id");
  });
});
