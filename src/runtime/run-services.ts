import type { FastifyInstance } from "fastify";
import type { Config } from "../platform/config/load-config.js";
import type { ServiceName } from "../platform/config/settings.js";
import { runMigrations } from "../platform/db/migrations.js";
import { AppError } from "../platform/errors/catalogue.js";
import { registerDashboardRoutes } from "../platform/http/dashboard-routes.js";
import { registerDiagnosticsRoutes } from "../platform/http/diagnostics-routes.js";
import { registerQueueAdminRoutes } from "../platform/http/queue-admin-routes.js";
import { connectionLimitsOf, createHttpServer } from "../platform/http/server.js";
import { internalPath, type Operations } from "../platform/http/service-client.js";
import { registerTelemetryRoutes } from "../platform/http/telemetry-routes.js";
import type { Logger } from "../platform/observability/logger.js";
import { TelemetrySampler } from "../platform/observability/telemetry.js";
import type { RunningService } from "../services/service-module.js";
import { openPlatform, type Platform } from "./platform.js";
import { createServiceClients } from "./service-clients.js";
import { SERVICE_MODULES } from "./service-registry.js";
import { checkStartupSettings } from "./startup-checks.js";

/** How often the dashboard and bench figures are sampled. */
const TELEMETRY_INTERVAL_MS = 500;

export interface RunningProcess {
  readonly platform: Platform;
  readonly app: FastifyInstance;
  /** The base URL the HTTP server listens on. */
  readonly url: string;
  /** Where the internal API listens, when it has a listener of its own (FLOODGATE_INTERNAL_PORT). */
  readonly internalUrl: string | undefined;
  /** Graceful: stop taking requests, finish in-flight ones and batches, close ports. */
  close(): Promise<void>;
}

/** Applies every hosted service's migrations: sharded schemas on every shard, the rest on the primary. */
export async function migrateServices(
  platform: Platform,
  names: readonly ServiceName[],
  logger: Logger,
): Promise<void> {
  for (const module of SERVICE_MODULES.filter((m) => names.includes(m.name))) {
    const targets = module.sharded ? platform.databases.all() : [platform.databases.primary];
    for (const db of targets) {
      await runMigrations(db, module.name, module.migrationsDir, (message: string) =>
        logger.info({ service: module.name, database: db.name }, message),
      );
    }
  }
}

/**
 * Starts the services config.services names in this process, behind one HTTP server: their public
 * routes, their internal operations for other processes, and health/metrics.
 */
export async function runServices(config: Config, logger: Logger): Promise<RunningProcess> {
  checkStartupSettings(config);
  const platform = await openPlatform(config, logger);
  let ready = false;
  let accepting = false;
  const app = createHttpServer({
    logger,
    metrics: platform.metrics,
    bodyLimitBytes: config.bodyLimitBytes,
    connections: connectionLimitsOf(config),
    isReady: () => ready,
    isAccepting: () => accepting,
  });
  // Service-to-service calls: on their own listener when FLOODGATE_INTERNAL_PORT is set; on the
  // public one only in development; nowhere otherwise (production, every service in this process).
  const internalApp =
    config.internalPort !== undefined
      ? createHttpServer({
          logger,
          metrics: platform.metrics,
          bodyLimitBytes: config.bodyLimitBytes,
          connections: connectionLimitsOf(config),
          isReady: () => ready,
          isAccepting: () => accepting,
        })
      : config.env === "development"
        ? app
        : undefined;
  const sampler = new TelemetrySampler(platform.metrics, TELEMETRY_INTERVAL_MS);
  registerTelemetryRoutes(app, sampler, TELEMETRY_INTERVAL_MS);
  registerDashboardRoutes(app);
  registerQueueAdminRoutes(app, { stream: platform.stream, tokens: platform.tokens });
  registerDiagnosticsRoutes(app, { tokens: platform.tokens });
  const apis = new Map<ServiceName, Operations>();
  const { clients, close: closeClients } = createServiceClients(config, platform.tokens, apis);
  const started: { name: ServiceName; service: RunningService }[] = [];
  try {
    await migrateServices(platform, config.services, logger);
    for (const module of SERVICE_MODULES.filter((m) => config.services.includes(m.name))) {
      const service = await module.start({ ...platform, clients });
      apis.set(module.name, service.api as Operations);
      started.push({ name: module.name, service });
      service.routes(app);
      if (internalApp) registerInternalRoutes(internalApp, module.name, service.api as Operations, platform);
      logger.info({ service: module.name }, "service started");
    }
    await app.listen({ port: config.port, host: config.host });
    if (internalApp && internalApp !== app) {
      await internalApp.listen({ port: config.internalPort!, host: config.internalHost });
    }
  } catch (error) {
    await stopAll(started, logger);
    await app.close().catch(() => {});
    if (internalApp && internalApp !== app) await internalApp.close().catch(() => {});
    await closeClients();
    await platform.close();
    throw error;
  }
  sampler.start();
  ready = true;
  accepting = true;
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      // Not ready, still serving: balancers (the gateway's health checks, Kubernetes endpoints)
      // notice and stop sending before anything is refused.
      if (config.shutdownDrainMs > 0) {
        logger.info({ drainMs: config.shutdownDrainMs }, "draining: not ready, still serving");
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      }
      accepting = false;
      sampler.stop();
      const deadline = setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, "graceful shutdown timed out; exiting");
        process.exit(1);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      await app.close();
      if (internalApp && internalApp !== app) await internalApp.close();
      await stopAll(started, logger);
      await closeClients();
      await platform.close();
      clearTimeout(deadline);
    })();
    return closing;
  };
  const internalAddress = internalApp && internalApp !== app ? internalApp.server.address() : undefined;
  const internalUrl =
    typeof internalAddress === "object" && internalAddress
      ? `http://${config.internalHost === "0.0.0.0" ? "127.0.0.1" : config.internalHost}:${internalAddress.port}`
      : undefined;
  return { platform, app, url, internalUrl, close };
}

async function stopAll(started: readonly { name: ServiceName; service: RunningService }[], logger: Logger) {
  // Reverse order: a service stops before those it depends on.
  for (const { name, service } of [...started].reverse()) {
    await service
      .stop()
      .catch((error: unknown) => logger.error({ err: error, service: name }, "stopping failed"));
  }
}

function registerInternalRoutes(
  app: FastifyInstance,
  service: ServiceName,
  api: Operations,
  platform: Platform,
) {
  for (const [operation, handler] of Object.entries(api)) {
    // Every operation takes one JSON object (or nothing): anything else is refused before the
    // handler sees it, so a malformed internal call is a 400, not a TypeError.
    app.post(
      internalPath(service, operation),
      { schema: { body: { type: ["object", "null"] } } },
      async (request) => {
        if (!platform.tokens.authenticate(request.headers.authorization).service) {
          throw new AppError("forbidden", "Internal routes need a service token.");
        }
        return { result: await handler(request.body ?? undefined) };
      },
    );
  }
}
