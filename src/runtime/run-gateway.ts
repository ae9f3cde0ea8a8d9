import type { FastifyInstance } from "fastify";
import { EdgePolicy } from "../gateway/edge-policy.js";
import { createGatewayApp } from "../gateway/gateway-app.js";
import { serviceInstances } from "../gateway/service-instances.js";
import { UpstreamGroup } from "../gateway/upstream-group.js";
import { type Config, ConfigError } from "../platform/config/load-config.js";
import { connectionLimitsOf } from "../platform/http/server.js";
import type { Logger } from "../platform/observability/logger.js";
import { Metrics } from "../platform/observability/metrics.js";
import { isRedisUrl, openRateLimiter } from "../platform/ratelimit/open-rate-limiter.js";
import { tokenServiceFor } from "./platform.js";

export interface RunningGateway {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly logger: Logger;
  close(): Promise<void>;
}

/**
 * Where the gateway keeps rate-limit buckets: FLOODGATE_GATEWAY_RATE_LIMIT_URL, else the Redis of
 * the cache, else of the stock, else memory (then each gateway instance counts on its own).
 */
export function rateLimitUrlOf(config: Config): string | undefined {
  if (config.gatewayRateLimitUrl)
    return isRedisUrl(config.gatewayRateLimitUrl) ? config.gatewayRateLimitUrl : undefined;
  return [config.cacheUrl, config.stockUrl].find(isRedisUrl);
}

/**
 * `floodgate gateway`: the public front door. Routes the public API to the services listed in
 * FLOODGATE_SERVICE_URLS, balancing over their ready instances, with tokens verified and rate
 * limits applied at the edge.
 */
export async function runGateway(config: Config, logger: Logger): Promise<RunningGateway> {
  const instances = serviceInstances(config.serviceUrls);
  if (instances.size === 0) {
    throw new ConfigError(
      "floodgate gateway needs FLOODGATE_SERVICE_URLS: where each service listens (catalog=http://h:p,orders=http://a:p|http://b:p,…).",
    );
  }
  const metrics = new Metrics({ process: "gateway" });
  const limiter = await openRateLimiter(rateLimitUrlOf(config), {
    prefix: config.cachePrefix,
    onWarning: (error) =>
      logger.warn({ err: error }, "gateway: rate-limit store unreachable; limiting per gateway meanwhile"),
  });
  const groups = new Map<string, UpstreamGroup>();
  for (const [service, urls] of instances) {
    groups.set(
      service,
      new UpstreamGroup(service, urls, {
        healthIntervalMs: config.gatewayHealthIntervalMs,
        breakerFailures: config.gatewayBreakerFailures,
        breakerOpenMs: config.gatewayBreakerOpenMs,
        logger,
      }),
    );
  }
  const limited = metrics.counter("gateway_rate_limited_total", "Requests the gateway refused with 429.", [
    "scope",
  ]);
  const policy = new EdgePolicy(
    tokenServiceFor(config),
    limiter,
    {
      user:
        config.gatewayUserRate > 0
          ? { ratePerSecond: config.gatewayUserRate, burst: config.gatewayUserBurst }
          : undefined,
      ip:
        config.gatewayIpRate > 0
          ? { ratePerSecond: config.gatewayIpRate, burst: config.gatewayIpBurst }
          : undefined,
    },
    (scope) => limited.inc({ scope }),
  );
  let ready = false;
  let accepting = false;
  const app = createGatewayApp({
    logger,
    metrics,
    policy,
    groups,
    bodyLimitBytes: config.bodyLimitBytes,
    connections: connectionLimitsOf(config),
    upstreamTimeoutMs: config.gatewayUpstreamTimeoutMs,
    getRetries: config.gatewayGetRetries,
    isReady: () => ready,
    isAccepting: () => accepting,
  });
  const closeUpstreams = async () => {
    await Promise.all([...groups.values()].map((group) => group.close()));
    await limiter.close();
  };
  try {
    await Promise.all([...groups.values()].map((group) => group.start()));
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close().catch(() => {});
    await closeUpstreams();
    throw error;
  }
  ready = true;
  accepting = true;
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      if (config.shutdownDrainMs > 0)
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      accepting = false;
      await app.close();
      await closeUpstreams();
    })();
    return closing;
  };
  return { app, url, logger, close };
}
