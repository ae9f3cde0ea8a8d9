import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { registerBenchCommand } from "../bench/command.js";
import { DEFAULT_TOKEN_TTL_SECONDS } from "../platform/auth/tokens.js";
import { ConfigError, loadConfig } from "../platform/config/load-config.js";
import { SERVICE_NAMES, type ServiceName } from "../platform/config/settings.js";
import { NoFreeWorkerIdError } from "../platform/ids/worker-id-errors.js";
import { createLogger, type Logger } from "../platform/observability/logger.js";
import type { RunningTracing } from "../platform/observability/tracing.js";
import { startPaymentSimulator } from "../platform/payments/simulator/simulator-server.js";
import { DEMO_SALE_SKU, seedDemo } from "../runtime/demo-seed.js";
import { paymentWebhookSecretOf } from "../runtime/payment-provider.js";
import { bundlesPaymentSimulator, startDataDirPaymentSimulator } from "../runtime/payment-simulator.js";
import { openPlatform, tokenServiceFor } from "../runtime/platform.js";
import { startProcessTracing } from "../runtime/process-tracing.js";
import { runGateway } from "../runtime/run-gateway.js";
import { migrateServices, type RunningProcess, runServices } from "../runtime/run-services.js";
import { registerCacheCommand } from "./cache-command.js";
import { registerQueueCommands } from "./queue-command.js";
import { renderConfigurationDoc, renderErrorsDoc } from "./reference-docs.js";

const program = new Command()
  .name("floodgate")
  .description("A commerce backend that takes flash-sale bursts without overselling or losing an order.")
  .showHelpAfterError();

const portOption = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError("a port from 0 to 65535");
  return value;
};

program
  .command("start")
  .description("Run every service in one process (embedded mode unless FLOODGATE_* URLs say otherwise).")
  .option("-p, --port <port>", "HTTP port (overrides FLOODGATE_PORT)", portOption)
  .action(async (options: { port?: string }) => {
    const config = loadConfig({ overrides: { port: options.port } });
    const logger = createLogger(config.logLevel);
    const tracing = startProcessTracing(config, "all");
    // Test-mode payments out of the box: the simulator runs in this process on a port of its own
    // (no child to orphan on kill -9, nothing else to start), reached over HTTP like any provider.
    const simulator = bundlesPaymentSimulator(config)
      ? await startDataDirPaymentSimulator(config)
      : undefined;
    let running: RunningProcess;
    try {
      running = await runServices(config, logger);
    } catch (error) {
      await simulator?.close();
      throw error;
    }
    const close = async () => {
      await running.close();
      // After the services: notifications it could not deliver stay in its state for next time.
      await simulator?.close();
    };
    handleSignals(running.platform.logger, withTracing(close, tracing));
    if (config.env === "production") {
      // Production seeds nothing and prints no token: logs are read by more people than admins.
      running.platform.logger.info(
        { url: running.url, internalUrl: running.internalUrl },
        "Floodgate is running",
      );
      return;
    }
    const seeded = config.seedDemo && (await seedDemo(running.app, running.platform.tokens));
    printWelcome(running, seeded, config.services.includes("payments"), simulator?.url);
  });

program
  .command("service")
  .description("Run one service alone; it reaches the others at FLOODGATE_SERVICE_URLS.")
  .argument("<name>", `one of ${SERVICE_NAMES.join(", ")}`, (value: string) => {
    if (!(SERVICE_NAMES as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${SERVICE_NAMES.join(", ")}`);
    }
    return value as ServiceName;
  })
  .option("-p, --port <port>", "HTTP port (overrides FLOODGATE_PORT)", portOption)
  .action(async (name: ServiceName, options: { port?: string }) => {
    const config = loadConfig({ overrides: { services: name, port: options.port } });
    const logger = createLogger(config.logLevel, { service: name });
    const tracing = startProcessTracing(config, name === "orders" ? `orders-${config.ordersRole}` : name);
    const running = await runServices(config, logger);
    handleSignals(logger, withTracing(running.close, tracing));
    logger.info({ url: running.url }, `${name} listening`);
  });

program
  .command("gateway")
  .description(
    "Run the public front door: routes the API to the services at FLOODGATE_SERVICE_URLS, with edge auth and rate limits.",
  )
  .option("-p, --port <port>", "HTTP port (overrides FLOODGATE_PORT)", portOption)
  .action(async (options: { port?: string }) => {
    const config = loadConfig({ overrides: { port: options.port } });
    const logger = createLogger(config.logLevel, { service: "gateway" });
    const tracing = startProcessTracing(config, "gateway");
    const running = await runGateway(config, logger);
    handleSignals(logger, withTracing(running.close, tracing));
    logger.info({ url: running.url }, "gateway listening");
  });

program
  .command("payment-simulator")
  .description("Run the payment provider simulator (test mode): checkout pages, signed webhooks, refunds.")
  .option("-p, --port <port>", "HTTP port", portOption, "8090")
  .option(
    "--state-dir <dir>",
    "where it keeps its state (payments, refunds, undelivered notifications) and publishes its address (default: <FLOODGATE_DATA_DIR>/payment-simulator)",
  )
  .addHelpText(
    "after",
    `
It signs notifications with FLOODGATE_PAYMENT_WEBHOOK_SECRET (unset: the secret generated in the
data dir, which Floodgate processes on the same data dir share) and binds FLOODGATE_HOST.
Point Floodgate at it with FLOODGATE_PAYMENT_PROVIDER_URL=http://<host>:<port>, or share the data
dir: a Floodgate without that URL finds it through <state dir>/address.

API (JSON):
  POST /v1/payments                 open a payment (Idempotency-Key: the paymentId)
  GET  /v1/payments[?orderId=]      list payments; GET /v1/payments/<id> one, with its refunds
  POST /v1/refunds                  refund (Idempotency-Key required: the same key, the same refund)
  GET  /checkout/<id>               the checkout page (the redirectUrl)
  POST /checkout/<id>/confirm       pay; body {"amountCents": n} pays another amount (a mismatch)
  POST /checkout/<id>/decline       decline; body {"reason": "..."}
  Either may add {"notification": {"duplicates": n, "delayMs": ms, "hold": true}} for its webhook.

Notifications: POST <notifyUrl> with Floodgate-Signature: t=<unix>,v1=<HMAC-SHA256 hex of
"<t>.<body>">, signed afresh on every attempt. Redelivered with exponential backoff (first retry
0.5-1 s later, each wait about twice the last, at most 60 s apart, for up to 3 days) until the answer is 2xx, or 409 (the receiver has
that event already: sending it again cannot help).

Test controls:
  PUT  /test/behaviour              {"notifications": {...as above, for every event},
                                     "failRefunds": n, "loseRefundAnswers": n, "refundDelayMs": ms}
  GET  /test/notifications          every delivery and its attempts
  POST /test/notifications/release  {"order": "created" | "reverse"}: send held notifications in order

State is kept in memory and written to <state dir>/state.json at most every 100 ms, so a restart
keeps payments, refunds and undelivered notifications (a crash may lose the last 100 ms).
`,
  )
  .action(async (options: { port: string; stateDir?: string }) => {
    const config = loadConfig();
    const logger = createLogger(config.logLevel, { service: "payment-simulator" });
    const simulator = options.stateDir
      ? await startPaymentSimulator({
          secret: paymentWebhookSecretOf(config),
          host: config.host,
          port: Number(options.port),
          stateDir: options.stateDir,
        })
      : await startDataDirPaymentSimulator(config, Number(options.port));
    handleSignals(logger, simulator.close);
    logger.info({ url: simulator.url }, "payment simulator listening");
  });

program
  .command("token")
  .description("Print a bearer token signed with FLOODGATE_AUTH_SECRET (or the data dir's generated secret).")
  .requiredOption("-u, --user <id>", "user id the token names (letters, digits, _ . -)")
  .option("--admin", "grant the admin routes", false)
  .option(
    "--ttl <seconds>",
    `lifetime in seconds (default: ${DEFAULT_TOKEN_TTL_SECONDS})`,
    (value: string) => {
      if (!/^\d+$/.test(value) || Number(value) < 1)
        throw new InvalidArgumentError("a positive number of seconds");
      return Number(value);
    },
  )
  .action((options: { user: string; admin: boolean; ttl?: number }) => {
    const tokens = tokenServiceFor(loadConfig());
    process.stdout.write(
      `${tokens.issue({ userId: options.user, admin: options.admin, ...(options.ttl ? { ttlSeconds: options.ttl } : {}) })}\n`,
    );
  });

program
  .command("migrate")
  .description("Apply every service's database migrations and exit.")
  .action(async () => {
    const config = loadConfig();
    const logger = createLogger(config.logLevel);
    const platform = await openPlatform(config, logger);
    try {
      await migrateServices(platform, SERVICE_NAMES, logger);
    } finally {
      await platform.close();
    }
  });

program
  .command("docs")
  .description("Print the configuration and error reference generated from the code (--write updates docs/).")
  .option("--write", "write docs/configuration.md and docs/errors.md instead of printing", false)
  .action((options: { write: boolean }) => {
    const pages = { "docs/configuration.md": renderConfigurationDoc(), "docs/errors.md": renderErrorsDoc() };
    for (const [path, text] of Object.entries(pages)) {
      if (options.write) writeFileSync(path, text);
      else process.stdout.write(`${text}\n`);
    }
  });

registerBenchCommand(program);

registerCacheCommand(program);

registerQueueCommands(program);

/** Closes the process, then sends the spans it still holds. */
function withTracing(close: () => Promise<void>, tracing: RunningTracing | undefined): () => Promise<void> {
  return async () => {
    await close();
    await tracing?.shutdown();
  };
}

function handleSignals(logger: Logger, close: () => Promise<void>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    signalled = true;
    logger.info({ signal }, "shutting down gracefully");
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function printWelcome(
  running: RunningProcess,
  seeded: boolean,
  payments: boolean,
  simulatorUrl: string | undefined,
): void {
  const { url, platform } = running;
  const user = platform.tokens.issue({ userId: "demo-user" });
  const admin = platform.tokens.issue({ userId: "demo-admin", admin: true });
  const lines = [
    "",
    `Floodgate is running at ${url}`,
    seeded ? `Seeded a demo catalog and an open flash sale on ${DEMO_SALE_SKU} (100 units, 2 per user).` : "",
    "",
    "Place an order:",
    `  curl -s -X POST ${url}/orders -H 'content-type: application/json' -H 'authorization: Bearer ${user}' -H 'idempotency-key: demo-1' -d '{"sku":"${DEMO_SALE_SKU}","quantity":1}'`,
    ...(payments
      ? [
          "",
          'Pay for it (once GET /orders/<orderId> says "created"): open a payment, then confirm it at the redirectUrl',
          `  curl -s -X POST ${url}/orders/<orderId>/payment -H 'authorization: Bearer ${user}'`,
          "  curl -s -X POST <redirectUrl>/confirm        (or /decline; or open <redirectUrl> in a browser)",
          `  curl -s ${url}/orders/<orderId> -H 'authorization: Bearer ${user}'        (status: paid)`,
          simulatorUrl
            ? `Payments go to the bundled payment simulator (test mode) at ${simulatorUrl}; see npx floodgate payment-simulator --help.`
            : "",
        ]
      : []),
    "",
    `Dashboard: ${url}/dashboard    (its Mail tab lists the emails sent; paste the admin token below when it asks)`,
    `Browse: curl -s '${url}/products?limit=5'    Stock: curl -s ${url}/admin/sales/${DEMO_SALE_SKU} -H 'authorization: Bearer ${admin}'`,
    `Admin token: ${admin}`,
    "More tokens: npx floodgate token --user <id> [--admin]    Stop: Ctrl-C",
    "",
  ];
  process.stderr.write(`${lines.filter((line, i) => line !== "" || lines[i - 1] !== "").join("\n")}\n`);
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`floodgate: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  // Not a bug, and the message says what to do: a stack trace would only bury it.
  if (error instanceof NoFreeWorkerIdError) {
    process.stderr.write(`floodgate: cannot start: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`floodgate: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
