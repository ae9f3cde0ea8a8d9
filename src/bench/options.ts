import { wrkAvailable } from "./generator/wrk-available.js";
import { queueStemProblem, runNamespace } from "./target/run-namespace.js";

export const SCENARIOS = ["catalog-read", "flash-sale", "accept", "mixed"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/**
 * A burst of distinct buyers each POSTing one order for one SKU: flash-sale (far more buyers than
 * stock: mostly refusals) and accept (stock for every buyer: every request is an accept).
 */
export function isOrderBurst(scenario: Scenario): scenario is "flash-sale" | "accept" {
  return scenario === "flash-sale" || scenario === "accept";
}

/**
 * ceiling: a bare node:http server; naive: one transaction per order; uncached: Floodgate itself
 * with FLOODGATE_CACHE_URL=none:// (every read to the database).
 */
export const BASELINES = ["ceiling", "naive", "uncached"] as const;
export type Baseline = (typeof BASELINES)[number];
export type TargetName = "floodgate" | Baseline;

/** Which baselines make sense for which scenario: the naive server only takes orders. */
export const BASELINES_FOR: Readonly<Record<Scenario, readonly Baseline[]>> = {
  "catalog-read": ["ceiling", "uncached"],
  "flash-sale": ["ceiling", "naive"],
  accept: ["ceiling", "naive"],
  mixed: ["ceiling", "uncached"],
};

/**
 * Where the Floodgate the bench starts keeps its live state, as a shorthand for --target-env:
 * `redis-jetstream` is live stock (and, through it, sold-out news) in the Redis on 127.0.0.1:6379
 * and orders through the NATS JetStream on 127.0.0.1:4222; the database stays PGlite.
 */
export const INFRA_PRESETS = {
  embedded: {},
  "redis-jetstream": {
    FLOODGATE_STOCK_URL: "redis://127.0.0.1:6379",
    FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222",
  },
} as const satisfies Record<string, Readonly<Record<string, string>>>;
export type Infra = keyof typeof INFRA_PRESETS;
export const INFRAS = Object.keys(INFRA_PRESETS) as Infra[];

/**
 * wrk: a C generator driven by wrk-driver.lua (closed model; it outruns the targets here).
 * node: the generator written in JavaScript (autocannon for the closed model, undici for the open
 * one), which also drives what wrk cannot (the open model, the mixed scenario's polls).
 */
export const GENERATORS = ["wrk", "node"] as const;
export type GeneratorName = (typeof GENERATORS)[number];

export type RunLength =
  | { readonly kind: "requests"; readonly count: number }
  | { readonly kind: "duration"; readonly seconds: number };

/**
 * Closed: `connections` clients, each sending its next request when the previous answered.
 * Open: requests leave at a fixed rate whatever the server does; latency counts from the
 * intended send time, so a stall shows as latency instead of as fewer requests sent.
 */
export type LoadModel =
  | { readonly kind: "closed"; readonly connections: number }
  | { readonly kind: "open"; readonly connections: number; readonly rate: number };

/** Shares of browse (GET /products/:id), order (POST /orders) and poll (GET /orders/:id); sum 1. */
export interface RequestMix {
  readonly browse: number;
  readonly order: number;
  readonly poll: number;
}

export interface BenchOptions {
  readonly scenario: Scenario;
  readonly length: RunLength;
  readonly model: LoadModel;
  /** Which load generator sends the measured load and the warm-up (see resolveGenerator). */
  readonly generator: GeneratorName;
  /** Units on sale (flash-sale, mixed). */
  readonly stock: number;
  /** Distinct buyers; each has its own token and Idempotency-Key. */
  readonly users: number;
  /** Requests sent before the measured run, not measured, so the target's JIT is warm. */
  readonly warmup: number;
  /** FLOODGATE_ORDER_WRITE_RATE for the started target; 0 = no ceiling. */
  readonly writeRate: number;
  /** FLOODGATE_ORDER_BATCH_SIZE for the started target. */
  readonly batchSize: number;
  readonly products: number;
  readonly zipfExponent: number;
  readonly mix: RequestMix;
  /** Bench this already-running server instead of starting one. */
  readonly url: string | null;
  readonly compare: readonly Baseline[];
  readonly runs: number;
  /** The naive baseline's PostgreSQL; null = PGlite. */
  readonly databaseUrl: string | null;
  /**
   * FLOODGATE_* settings for the Floodgate the bench starts (e.g. FLOODGATE_CACHE_URL to measure
   * with Redis as L2, or none:// for no caching). Named explicitly: the caller's own environment
   * never leaks into the target.
   */
  readonly targetEnv: Readonly<Record<string, string>>;
  /** The --infra preset, already merged into `targetEnv` (absent in results older than it). */
  readonly infra?: Infra;
  /**
   * --at-fraction-of-max: first find Floodgate's maximum with closed-model runs, then measure the
   * open model at this fraction of it (`model` is that open model). null: a single measurement.
   */
  readonly fractionOfMax?: number | null;
  readonly cpuProf: boolean;
  readonly outDir: string;
  readonly jsonOnly: boolean;
  readonly seed: number;
}

interface ScenarioDefaults {
  readonly length: RunLength;
  readonly connections: number;
  /** Units on sale; accept: per buyer (stock = buyers × this). */
  readonly stock: number;
  /** Buyers when the run is given as a duration (a request count sets one buyer per request). */
  readonly users: number;
  readonly warmup: number;
}

/**
 * Defaults sized for a 2-core machine: long enough for stable medians, short enough to repeat.
 * A flash sale is a burst of distinct buyers far above stock; the write ceiling is low enough
 * that the backlog is visible in the report and drains in seconds.
 */
export const SCENARIO_DEFAULTS: Readonly<Record<Scenario, ScenarioDefaults>> = {
  "catalog-read": {
    length: { kind: "duration", seconds: 10 },
    connections: 50,
    stock: 0,
    users: 1000,
    // The cache warm-up already reads every product once before the run.
    warmup: 0,
  },
  "flash-sale": {
    length: { kind: "requests", count: 20_000 },
    connections: 100,
    stock: 2000,
    users: 20_000,
    // A sale starts on a server that has been serving for a while: a freshly started process runs
    // its first few thousand orders at a fraction of its warm speed (JIT), which would dominate a
    // burst of a few seconds. `--warmup 0` measures the cold start instead.
    warmup: 2000,
  },
  // The accept path alone: twice the stock the buyers may take, so every request is an accept and
  // the run measures reserving, appending and answering, never the refusal's shortcut.
  accept: {
    length: { kind: "requests", count: 20_000 },
    connections: 100,
    stock: 2,
    users: 20_000,
    warmup: 2000,
  },
  mixed: {
    length: { kind: "duration", seconds: 15 },
    connections: 50,
    stock: 100_000,
    users: 10_000,
    warmup: 2000,
  },
};

export const COMMON_DEFAULTS = {
  writeRate: 250,
  products: 1000,
  zipfExponent: 1.1,
  mix: "80/10/10",
  runs: 1,
  seed: 1,
  outDir: "bench/results",
} as const;

/**
 * The write batch the started target uses: a tenth of a second of the write ceiling, so the
 * worker writes small batches often and the 500 ms telemetry shows a flat write rate. With
 * Floodgate's default of 500 rows a batch, a 500/s ceiling is one 500-row write per second,
 * which the samples show as alternating 1000/s and 0.
 */
export function defaultBatchSize(writeRate: number): number {
  return writeRate > 0 ? Math.max(1, Math.min(5000, Math.round(writeRate / 10))) : 500;
}

export class BenchOptionError extends Error {}

/** Options as commander hands them over: strings where the user typed something. */
export interface RawBenchOptions {
  readonly duration?: string;
  readonly requests?: string;
  readonly connections?: string;
  readonly rate?: string;
  readonly generator?: string;
  readonly stock?: string;
  readonly users?: string;
  readonly warmup?: string;
  readonly writeRate?: string;
  readonly batchSize?: string;
  readonly products?: string;
  readonly zipf?: string;
  readonly mix?: string;
  readonly url?: string;
  readonly compare?: string;
  readonly runs?: string;
  readonly databaseUrl?: string;
  readonly targetEnv?: readonly string[];
  readonly infra?: string;
  readonly atFractionOfMax?: string;
  readonly cpuProf?: boolean;
  readonly out?: string;
  readonly jsonOnly?: boolean;
  readonly seed?: string;
}

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new BenchOptionError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

function positiveNumber(name: string, text: string, max: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new BenchOptionError(`--${name} must be a number above 0 and at most ${max}, got "${text}"`);
  }
  return value;
}

export function parseMix(text: string): RequestMix {
  const parts = text.split("/").map((part) => Number(part));
  if (parts.length !== 3 || parts.some((part) => !Number.isFinite(part) || part < 0)) {
    throw new BenchOptionError(`--mix must be three non-negative numbers like 80/10/10, got "${text}"`);
  }
  const [browse, order, poll] = parts as [number, number, number];
  const total = browse + order + poll;
  if (total <= 0) throw new BenchOptionError("--mix must not be all zero");
  return { browse: browse / total, order: order / total, poll: poll / total };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** The bench only ever sends traffic to this machine. */
function loopbackUrl(name: string, text: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchOptionError(`--${name} is not a URL: "${text}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new BenchOptionError(`--${name} must use ${protocols.join(" or ")}, got ${url.protocol}`);
  }
  if (!LOOPBACK_HOSTS.has(url.hostname) && !/^127\.\d+\.\d+\.\d+$/.test(url.hostname)) {
    throw new BenchOptionError(`--${name} must point at this machine (127.0.0.1, localhost or [::1])`);
  }
  return text.replace(/\/+$/, "");
}

export function parseScenario(text: string): Scenario {
  if (!(SCENARIOS as readonly string[]).includes(text)) {
    throw new BenchOptionError(`unknown scenario "${text}": expected one of ${SCENARIOS.join(", ")}`);
  }
  return text as Scenario;
}

/** Turns the command line into complete, validated options (every default applied here). */
export function resolveBenchOptions(scenario: Scenario, raw: RawBenchOptions): BenchOptions {
  const defaults = SCENARIO_DEFAULTS[scenario];
  if (raw.duration !== undefined && raw.requests !== undefined) {
    throw new BenchOptionError("give --duration or --requests, not both");
  }
  const length: RunLength =
    raw.duration !== undefined
      ? { kind: "duration", seconds: positiveNumber("duration", raw.duration, 3600) }
      : raw.requests !== undefined
        ? { kind: "requests", count: integer("requests", raw.requests, 1, 10_000_000) }
        : defaults.length;
  const connections = integer("connections", raw.connections ?? String(defaults.connections), 1, 10_000);
  if (raw.rate !== undefined && raw.atFractionOfMax !== undefined) {
    throw new BenchOptionError(
      "give --rate or --at-fraction-of-max, not both: the latter finds the rate itself (a fraction of the closed-model maximum)",
    );
  }
  const fractionOfMax =
    raw.atFractionOfMax === undefined ? null : positiveNumber("at-fraction-of-max", raw.atFractionOfMax, 1);
  const model: LoadModel =
    raw.rate !== undefined
      ? { kind: "open", connections, rate: positiveNumber("rate", raw.rate, 1_000_000) }
      : { kind: "closed", connections };
  const generator = resolveGenerator(raw.generator, scenario, model, wrkAvailable);
  const users =
    raw.users !== undefined
      ? integer("users", raw.users, 1, 10_000_000)
      : isOrderBurst(scenario) && length.kind === "requests"
        ? length.count
        : defaults.users;
  // accept measures the intake: no write ceiling, so the backlog of every order drains in seconds.
  const writeRate = integer(
    "write-rate",
    raw.writeRate ?? String(scenario === "accept" ? 0 : COMMON_DEFAULTS.writeRate),
    0,
    1_000_000,
  );
  const compare = (raw.compare ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of compare) {
    if (!(BASELINES as readonly string[]).includes(name)) {
      throw new BenchOptionError(`unknown baseline "${name}": expected ${BASELINES.join(" and/or ")}`);
    }
    if (!BASELINES_FOR[scenario].includes(name as Baseline)) {
      throw new BenchOptionError(
        `the ${name} baseline does not serve ${scenario}; it takes ${BASELINES_FOR[scenario].join(", ")}`,
      );
    }
  }
  const url = raw.url === undefined ? null : loopbackUrl("url", raw.url, ["http:"]);
  const databaseUrl =
    raw.databaseUrl === undefined
      ? null
      : loopbackUrl("database-url", raw.databaseUrl, ["postgres:", "postgresql:"]);
  if (databaseUrl !== null && !compare.includes("naive")) {
    throw new BenchOptionError("--database-url is for the naive baseline: add --compare naive");
  }
  if (url !== null && raw.cpuProf) {
    throw new BenchOptionError("--cpu-prof needs the bench to start the target; it cannot profile --url");
  }
  if (url !== null && (raw.writeRate !== undefined || raw.batchSize !== undefined)) {
    throw new BenchOptionError(
      "--write-rate and --batch-size configure a target the bench starts; not with --url",
    );
  }
  const infra = parseInfra(raw.infra);
  if (url !== null && infra !== "embedded") {
    throw new BenchOptionError("--infra configures a target the bench starts; not with --url");
  }
  const targetEnv = withInfra(infra, parseTargetEnv(raw.targetEnv ?? []));
  const stock = integer(
    "stock",
    raw.stock ?? String(scenario === "accept" ? defaults.stock * users : defaults.stock),
    0,
    100_000_000,
  );
  if (scenario !== "catalog-read" && stock < 1) throw new BenchOptionError("--stock must be at least 1");
  if (scenario === "accept" && stock < users) {
    throw new BenchOptionError(
      `accept needs stock for every buyer (--stock ${stock} < ${users} buyers); a burst beyond stock is flash-sale`,
    );
  }
  return {
    scenario,
    length,
    model,
    generator,
    stock,
    users,
    warmup: integer("warmup", raw.warmup ?? String(defaults.warmup), 0, 1_000_000),
    writeRate,
    batchSize:
      raw.batchSize !== undefined
        ? integer("batch-size", raw.batchSize, 1, 5000)
        : defaultBatchSize(writeRate),
    products: integer("products", raw.products ?? String(COMMON_DEFAULTS.products), 1, 100_000),
    zipfExponent: positiveNumber("zipf", raw.zipf ?? String(COMMON_DEFAULTS.zipfExponent), 10),
    mix: parseMix(raw.mix ?? COMMON_DEFAULTS.mix),
    url,
    compare: BASELINES.filter((name) => compare.includes(name)),
    runs: integer("runs", raw.runs ?? String(COMMON_DEFAULTS.runs), 1, 100),
    databaseUrl,
    targetEnv,
    infra,
    fractionOfMax,
    cpuProf: raw.cpuProf === true,
    outDir: raw.out ?? COMMON_DEFAULTS.outDir,
    jsonOnly: raw.jsonOnly === true,
    seed: integer("seed", raw.seed ?? String(COMMON_DEFAULTS.seed), 0, 2 ** 32 - 1),
  };
}

/**
 * wrk for the closed model wherever it can drive the scenario: the JavaScript generator saturated
 * its core before the fast targets did, which capped the ceiling and flattered every ratio against
 * it. The open model and the mixed scenario (whose polls follow earlier answers) stay on the
 * JavaScript generator. Asked for explicitly, a generator that cannot run is an error; by default,
 * a machine without wrk falls back to the JavaScript generator, and the report names it.
 */
export function resolveGenerator(
  text: string | undefined,
  scenario: Scenario,
  model: LoadModel,
  hasWrk: () => boolean,
): GeneratorName {
  const wrkCan = model.kind === "closed" && scenario !== "mixed";
  if (text === undefined) return wrkCan && hasWrk() ? "wrk" : "node";
  if (!(GENERATORS as readonly string[]).includes(text)) {
    throw new BenchOptionError(`unknown --generator "${text}": expected ${GENERATORS.join(" or ")}`);
  }
  if (text === "wrk") {
    if (model.kind === "open")
      throw new BenchOptionError("--generator wrk drives the closed model only (no --rate)");
    if (scenario === "mixed") {
      throw new BenchOptionError("--generator wrk cannot drive mixed: its polls depend on earlier answers");
    }
    if (!hasWrk()) throw new BenchOptionError("--generator wrk: no wrk on PATH (Debian package wrk)");
  }
  return text as GeneratorName;
}

/** One line describing the load, for the table and the report. */
export function describeLoad(options: BenchOptions): string {
  const length =
    options.length.kind === "requests" ? `${options.length.count} requests` : `${options.length.seconds} s`;
  const model =
    options.model.kind === "open"
      ? `open model at ${options.model.rate} req/s${
          options.fractionOfMax ? ` (${options.fractionOfMax} × the closed-model maximum measured first)` : ""
        } over ≤${options.model.connections} connections`
      : `closed model, ${options.model.connections} connections`;
  const generator = options.generator === "wrk" ? "wrk" : "node generator";
  return `${model} (${generator}), ${length}${options.warmup > 0 ? ` after ${options.warmup} warm-up requests` : ", no warm-up"}`;
}

function parseInfra(text: string | undefined): Infra {
  if (text === undefined) return "embedded";
  if (!(INFRAS as string[]).includes(text)) {
    throw new BenchOptionError(`unknown --infra "${text}": expected ${INFRAS.join(" or ")}`);
  }
  return text as Infra;
}

/**
 * The preset's settings under --target-env's. A --target-env setting that contradicts the preset
 * is refused rather than silently winning: the report names the preset. Any prefix given for a
 * shared server must leave room for the run tag the bench appends (see run-namespace.ts).
 */
function withInfra(infra: Infra, targetEnv: Record<string, string>): Record<string, string> {
  const preset: Readonly<Record<string, string>> = INFRA_PRESETS[infra];
  for (const [name, value] of Object.entries(preset)) {
    if (targetEnv[name] !== undefined && targetEnv[name] !== value) {
      throw new BenchOptionError(
        `--infra ${infra} sets ${name}=${value}; --target-env ${name}=${targetEnv[name]} contradicts it (drop one)`,
      );
    }
  }
  const env = { ...preset, ...targetEnv };
  const stem = env.FLOODGATE_QUEUE_PREFIX;
  if (stem !== undefined && runNamespace(env, "00000000").env.FLOODGATE_QUEUE_PREFIX !== undefined) {
    const problem = queueStemProblem(stem);
    if (problem) throw new BenchOptionError(`--target-env ${problem}`);
  }
  return env;
}

/** `--target-env NAME=value` pairs: FLOODGATE_* settings only, pointing at 127.0.0.1 if at a server. */
export function parseTargetEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = eq > 0 ? pair.slice(0, eq) : "";
    if (!/^FLOODGATE_[A-Z_]+$/.test(name)) {
      throw new BenchOptionError(`--target-env takes FLOODGATE_NAME=value, got "${pair}"`);
    }
    const value = pair.slice(eq + 1);
    const hosts = [...value.matchAll(/:\/\/(?:[^@/]*@)?([^:/,]+)/g)].map((match) => match[1]);
    if (hosts.some((host) => host !== "127.0.0.1" && host !== "localhost")) {
      throw new BenchOptionError(`--target-env ${name}: the bench only drives servers on 127.0.0.1`);
    }
    env[name] = value;
  }
  return env;
}
