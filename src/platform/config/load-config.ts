import { readFileSync } from "node:fs";
import { describeAccepted, parseSetting, type SettingValue, SettingValueError } from "./setting-types.js";
import { envNameOf, SETTINGS, type ServiceName, type SettingKey } from "./settings.js";

export interface Config {
  readonly port: number;
  /** development | production: given, or production when any server URL is configured. */
  readonly env: "development" | "production";
  readonly internalPort: number | undefined;
  readonly internalHost: string;
  readonly host: string;
  readonly dataDir: string;
  readonly authSecret: string | undefined;
  readonly authPreviousSecret: string | undefined;
  readonly databaseUrls: readonly string[] | undefined;
  readonly embeddedShards: number;
  readonly cacheUrl: string | undefined;
  readonly cachePrefix: string;
  readonly cacheWarmTop: number;
  readonly queueUrl: string | undefined;
  readonly queuePrefix: string;
  readonly stockUrl: string | undefined;
  readonly stockPrefix: string;
  readonly broadcastUrl: string | undefined;
  readonly services: readonly ServiceName[];
  readonly serviceUrls: ReadonlyMap<string, string>;
  readonly internalServiceUrls: ReadonlyMap<string, string>;
  readonly shutdownDrainMs: number;
  readonly otlpUrl: string | undefined;
  readonly traceSamplePercent: number;
  readonly gatewayUserRate: number;
  readonly gatewayUserBurst: number;
  readonly gatewayIpRate: number;
  readonly gatewayIpBurst: number;
  readonly gatewayRateLimitUrl: string | undefined;
  readonly orderUserRate: number;
  readonly orderUserBurst: number;
  readonly orderIpRate: number;
  readonly orderIpBurst: number;
  readonly rateLimitUrl: string | undefined;
  readonly gatewayUpstreamTimeoutMs: number;
  readonly gatewayHealthIntervalMs: number;
  readonly gatewayGetRetries: number;
  readonly gatewayBreakerFailures: number;
  readonly gatewayBreakerOpenMs: number;
  /** Set: the operator's choice. Unset: the runtime leases one (src/runtime/worker-ids.ts). */
  readonly workerId: number | undefined;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  readonly httpKeepAliveTimeoutMs: number;
  readonly httpMaxConnections: number;
  readonly ordersRole: "all" | "intake" | "worker";
  readonly orderRedeliverySeconds: number;
  readonly orderBatchSize: number;
  readonly orderWriteRate: number;
  readonly reservationTtlSeconds: number;
  readonly reconcileIntervalSeconds: number;
  readonly lowPriorityMaxLag: number;
  readonly shutdownTimeoutMs: number;
  readonly paymentTimeoutSeconds: number;
  readonly paymentProviderUrl: string | undefined;
  readonly paymentWebhookSecret: string | undefined;
  readonly publicUrl: string | undefined;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly carrierDeliverySeconds: number;
  readonly loyaltyPointsPerCurrencyUnit: number;
  readonly seedDemo: boolean;
}

/** A setting that is missing, unknown or malformed; the message names the variable and what it accepts. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface LoadConfigOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Values that win over env and file (command-line flags). */
  readonly overrides?: Partial<Record<SettingKey, string>>;
}

const CONFIG_FILE_ENV = "FLOODGATE_CONFIG";

/**
 * Reads settings from (lowest to highest precedence) defaults, the JSON file named by
 * FLOODGATE_CONFIG, FLOODGATE_* environment variables, then overrides. Unknown FLOODGATE_*
 * variables and unknown file keys stop start-up: a typo must not silently fall back to a default.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const raw = new Map<SettingKey, { text: string; source: string }>();
  const keys = Object.keys(SETTINGS) as SettingKey[];
  const keyByEnv = new Map(keys.map((key) => [envNameOf(key), key]));

  const filePath = env[CONFIG_FILE_ENV];
  if (filePath) {
    for (const [key, value] of Object.entries(readConfigFile(filePath))) {
      if (!Object.hasOwn(SETTINGS, key)) {
        throw new ConfigError(`${filePath}: unknown setting "${key}". Known settings: ${keys.join(", ")}.`);
      }
      const text = Array.isArray(value) ? value.join(",") : String(value);
      raw.set(key as SettingKey, { text, source: `${filePath} key "${key}"` });
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("FLOODGATE_") || name === CONFIG_FILE_ENV || value === undefined) continue;
    if (TEST_ONLY_ENV.has(name)) continue;
    const key = keyByEnv.get(name);
    if (!key) {
      throw new ConfigError(
        `Unknown environment variable ${name}. Known: ${[...keyByEnv.keys(), CONFIG_FILE_ENV].join(", ")}.`,
      );
    }
    if (value !== "") raw.set(key, { text: value, source: name });
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) raw.set(key as SettingKey, { text: value, source: `--${key}` });
  }

  const value = (key: SettingKey): SettingValue | undefined => {
    const spec = SETTINGS[key];
    const given = raw.get(key);
    const text = given?.text ?? ("default" in spec ? spec.default : undefined);
    if (text === undefined) return undefined;
    try {
      return parseSetting(spec.type, text);
    } catch (error) {
      if (!(error instanceof SettingValueError)) throw error;
      const where = given?.source ?? `the default of ${envNameOf(key)}`;
      throw new ConfigError(
        `${where}: ${error.message}. ${envNameOf(key)} accepts ${describeAccepted(spec.type)}.`,
      );
    }
  };

  return {
    port: value("port") as number,
    env:
      (value("env") as Config["env"] | undefined) ??
      (SERVER_URL_SETTINGS.some((key) => pointsAtAServer(value(key))) ? "production" : "development"),
    internalPort: value("internalPort") as number | undefined,
    internalHost: value("internalHost") as string,
    host: value("host") as string,
    dataDir: value("dataDir") as string,
    authSecret: value("authSecret") as string | undefined,
    authPreviousSecret: value("authPreviousSecret") as string | undefined,
    databaseUrls: value("databaseUrls") as string[] | undefined,
    embeddedShards: value("embeddedShards") as number,
    cacheUrl: value("cacheUrl") as string | undefined,
    cachePrefix: value("cachePrefix") as string,
    cacheWarmTop: value("cacheWarmTop") as number,
    queueUrl: value("queueUrl") as string | undefined,
    queuePrefix: value("queuePrefix") as string,
    stockUrl: value("stockUrl") as string | undefined,
    stockPrefix: value("stockPrefix") as string,
    broadcastUrl: value("broadcastUrl") as string | undefined,
    services: value("services") as ServiceName[],
    serviceUrls: (value("serviceUrls") as ReadonlyMap<string, string> | undefined) ?? new Map(),
    internalServiceUrls:
      (value("internalServiceUrls") as ReadonlyMap<string, string> | undefined) ?? new Map(),
    shutdownDrainMs: value("shutdownDrainMs") as number,
    otlpUrl: value("otlpUrl") as string | undefined,
    traceSamplePercent: value("traceSamplePercent") as number,
    gatewayUserRate: value("gatewayUserRate") as number,
    gatewayUserBurst: value("gatewayUserBurst") as number,
    gatewayIpRate: value("gatewayIpRate") as number,
    gatewayIpBurst: value("gatewayIpBurst") as number,
    gatewayRateLimitUrl: value("gatewayRateLimitUrl") as string | undefined,
    orderUserRate: value("orderUserRate") as number,
    orderUserBurst: value("orderUserBurst") as number,
    orderIpRate: value("orderIpRate") as number,
    orderIpBurst: value("orderIpBurst") as number,
    rateLimitUrl: value("rateLimitUrl") as string | undefined,
    gatewayUpstreamTimeoutMs: value("gatewayUpstreamTimeoutMs") as number,
    gatewayHealthIntervalMs: value("gatewayHealthIntervalMs") as number,
    gatewayGetRetries: value("gatewayGetRetries") as number,
    gatewayBreakerFailures: value("gatewayBreakerFailures") as number,
    gatewayBreakerOpenMs: value("gatewayBreakerOpenMs") as number,
    workerId: value("workerId") as number | undefined,
    logLevel: value("logLevel") as string,
    bodyLimitBytes: value("bodyLimitBytes") as number,
    httpHeadersTimeoutMs: value("httpHeadersTimeoutMs") as number,
    httpRequestTimeoutMs: value("httpRequestTimeoutMs") as number,
    httpKeepAliveTimeoutMs: value("httpKeepAliveTimeoutMs") as number,
    httpMaxConnections: value("httpMaxConnections") as number,
    ordersRole: value("ordersRole") as Config["ordersRole"],
    orderRedeliverySeconds: value("orderRedeliverySeconds") as number,
    orderBatchSize: value("orderBatchSize") as number,
    orderWriteRate: value("orderWriteRate") as number,
    reservationTtlSeconds: value("reservationTtlSeconds") as number,
    reconcileIntervalSeconds: value("reconcileIntervalSeconds") as number,
    lowPriorityMaxLag: value("lowPriorityMaxLag") as number,
    shutdownTimeoutMs: value("shutdownTimeoutMs") as number,
    paymentTimeoutSeconds: value("paymentTimeoutSeconds") as number,
    paymentProviderUrl: value("paymentProviderUrl") as string | undefined,
    paymentWebhookSecret: value("paymentWebhookSecret") as string | undefined,
    publicUrl: value("publicUrl") as string | undefined,
    smtpUrl: value("smtpUrl") as string | undefined,
    mailFrom: value("mailFrom") as string,
    carrierDeliverySeconds: value("carrierDeliverySeconds") as number,
    loyaltyPointsPerCurrencyUnit: value("loyaltyPointsPerCurrencyUnit") as number,
    seedDemo: value("seedDemo") as boolean,
  };
}

/** Settings that point at servers: any of them makes the default environment production. */
const SERVER_URL_SETTINGS = [
  "databaseUrls",
  "queueUrl",
  "cacheUrl",
  "stockUrl",
  "broadcastUrl",
  "smtpUrl",
  "paymentProviderUrl",
] as const satisfies readonly SettingKey[];

/** A URL (or list) naming a server, as opposed to this process (memory://, embedded://, none://). */
function pointsAtAServer(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return typeof value === "string" && !/^(memory|embedded|none):/i.test(value);
}

/** Variables the test harness reads; they are not settings of the platform. */
const TEST_ONLY_ENV = new Set(["FLOODGATE_REQUIRE_INFRA"]);

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(
      `${CONFIG_FILE_ENV}=${path}: cannot read it as JSON (${(error as Error).message}).`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`${CONFIG_FILE_ENV}=${path}: expected a JSON object of settings.`);
  }
  return parsed as Record<string, unknown>;
}
