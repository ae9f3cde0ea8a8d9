import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { registerBenchCommand } from "../bench/command.js";
import { DEFAULT_TOKEN_TTL_SECONDS } from "../platform/auth/tokens.js";
import { ConfigError, loadConfig } from "../platform/config/load-config.js";
import { SERVICE_NAMES, type ServiceName } from "../platform/config/settings.js";
import { NoFreeWorkerIdError } from "../platform/ids/worker-id-errors.js";
import { createLogger, type Logger } from "../platform/observability/logger.js";
import type { RunningTracing } from "../platform/observability/tracing.js";
import { DEMO_SALE_SKU, seedDemo } from "../runtime/demo-seed.js";
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
    const running = await runServices(config, logger);
    handleSignals(running.platform.logger, withTracing(running.close, tracing));
    const seeded = config.seedDemo && (await seedDemo(running.app, running.platform.tokens));
    printWelcome(running, seeded);
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

function printWelcome(running: RunningProcess, seeded: boolean): void {
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
    "",
    `Dashboard: ${url}/dashboard`,
    `Browse: curl -s '${url}/products?limit=5'    Stock: curl -s ${url}/admin/sales/${DEMO_SALE_SKU} -H 'authorization: Bearer ${admin}'`,
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
