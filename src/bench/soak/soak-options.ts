import { BenchOptionError, INFRA_PRESETS, INFRAS, type Infra, parseTargetEnv } from "../options.js";

/** `floodgate bench soak`: the defaults the code applies (the help text prints them). */
export const SOAK_DEFAULTS = {
  orders: 1_000_000,
  /** A checkpoint (drain, forced GC, heap and RSS) every this many accepted orders. */
  every: 100_000,
  buyers: 20_000,
  /** Far above demand: nothing sells out, every order is accepted. */
  stock: 10_000_000,
  connections: 50,
  /** The sale's per-buyer limit: the API's maximum, far above what any buyer orders. */
  perUserLimit: 1000,
  outDir: "bench/results",
  /** Each checkpoint's drain (every accepted order stored) is given up after this long. */
  drainTimeoutSeconds: 600,
} as const;

export interface SoakOptions {
  readonly scenario: "soak";
  /** Accepted orders to push through the one target. */
  readonly orders: number;
  readonly every: number;
  readonly buyers: number;
  readonly stock: number;
  readonly connections: number;
  readonly perUserLimit: number;
  /** Also stop and restart the target at every checkpoint (not only at 0 and at the end). */
  readonly restartAtCheckpoints: boolean;
  readonly drainTimeoutSeconds: number;
  readonly targetEnv: Readonly<Record<string, string>>;
  readonly infra: Infra;
  readonly outDir: string;
  readonly jsonOnly: boolean;
}

/** The options of `floodgate bench` that the soak scenario reads (strings as typed). */
export interface RawSoakOptions {
  readonly orders?: string;
  readonly every?: string;
  readonly buyers?: string;
  readonly users?: string;
  readonly stock?: string;
  readonly connections?: string;
  readonly restartAtCheckpoints?: boolean;
  readonly targetEnv?: readonly string[];
  readonly infra?: string;
  readonly out?: string;
  readonly jsonOnly?: boolean;
}

/** Options of other scenarios that mean nothing here: refused rather than silently ignored. */
const NOT_FOR_SOAK = [
  "duration",
  "requests",
  "rate",
  "warmup",
  "writeRate",
  "batchSize",
  "products",
  "zipf",
  "mix",
  "url",
  "compare",
  "runs",
  "databaseUrl",
  "atFractionOfMax",
  "cpuProf",
  "seed",
] as const;

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new BenchOptionError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * The most orders one buyer places: the generator starts over at buyer 0 for every checkpoint's
 * batch, so each batch gives a buyer at most ceil(batch / buyers).
 */
export function mostOrdersPerBuyer(orders: number, every: number, buyers: number): number {
  const batches = Math.ceil(orders / every);
  return Math.ceil(orders / buyers) + batches;
}

export function resolveSoakOptions(raw: RawSoakOptions): SoakOptions {
  for (const name of NOT_FOR_SOAK) {
    if ((raw as Readonly<Record<string, unknown>>)[name] !== undefined)
      throw new BenchOptionError(`${flag(name)} is not an option of the soak scenario`);
  }
  if (raw.buyers !== undefined && raw.users !== undefined && raw.buyers !== raw.users) {
    throw new BenchOptionError("give --buyers (or its alias --users), not both");
  }
  const orders = integer("orders", raw.orders ?? String(SOAK_DEFAULTS.orders), 1000, 100_000_000);
  const every =
    raw.every === undefined
      ? Math.min(SOAK_DEFAULTS.every, orders)
      : integer("every", raw.every, 1000, orders);
  const buyers = integer("buyers", raw.buyers ?? raw.users ?? String(SOAK_DEFAULTS.buyers), 1, 1_000_000);
  const stock = integer("stock", raw.stock ?? String(SOAK_DEFAULTS.stock), orders, 100_000_000);
  const perBuyer = mostOrdersPerBuyer(orders, every, buyers);
  if (perBuyer > SOAK_DEFAULTS.perUserLimit) {
    throw new BenchOptionError(
      `${orders} orders over ${buyers} buyers is up to ${perBuyer} orders a buyer, above the sale's per-buyer limit of ${SOAK_DEFAULTS.perUserLimit}: give more --buyers`,
    );
  }
  const infra = (raw.infra ?? "embedded") as Infra;
  if (!INFRAS.includes(infra))
    throw new BenchOptionError(`unknown --infra "${raw.infra}": expected ${INFRAS.join(" or ")}`);
  return {
    scenario: "soak",
    orders,
    every,
    buyers,
    stock,
    connections: integer("connections", raw.connections ?? String(SOAK_DEFAULTS.connections), 1, 1000),
    perUserLimit: SOAK_DEFAULTS.perUserLimit,
    restartAtCheckpoints: raw.restartAtCheckpoints === true,
    drainTimeoutSeconds: SOAK_DEFAULTS.drainTimeoutSeconds,
    // The other scenarios' rule: FLOODGATE_* only, servers on 127.0.0.1.
    targetEnv: { ...INFRA_PRESETS[infra], ...parseTargetEnv(raw.targetEnv ?? []) },
    infra,
    outDir: raw.out ?? SOAK_DEFAULTS.outDir,
    jsonOnly: raw.jsonOnly === true,
  };
}
