import { BenchOptionError, INFRA_PRESETS, INFRAS, type Infra, parseTargetEnv } from "../options.js";

/** `floodgate bench lifecycle`: the defaults the code applies (the help text prints them). */
export const LIFECYCLE_DEFAULTS = {
  buyers: 2000,
  /** The carrier simulator's FLOODGATE_CARRIER_DELIVERY_SECONDS: short, so the drain is seconds. */
  carrierSeconds: 1,
  /** Confirmations in flight at once during the burst (the simulator then delivers 32 at a time). */
  confirmConcurrency: 64,
  runs: 1,
  outDir: "bench/results",
  /** The whole paid → completed drain is given up after this long. */
  drainTimeoutSeconds: 600,
} as const;

export const LIFECYCLE_BASELINES = ["sync"] as const;
export type LifecycleBaseline = (typeof LIFECYCLE_BASELINES)[number];

export interface LifecycleOptions {
  readonly scenario: "lifecycle";
  readonly buyers: number;
  readonly compare: readonly LifecycleBaseline[];
  readonly runs: number;
  readonly carrierSeconds: number;
  readonly confirmConcurrency: number;
  readonly drainTimeoutSeconds: number;
  /** FLOODGATE_* settings for the started Floodgate (and, for the database, the sync baseline). */
  readonly targetEnv: Readonly<Record<string, string>>;
  readonly infra: Infra;
  readonly outDir: string;
  readonly jsonOnly: boolean;
  /** Run Floodgate under node --cpu-prof; the profiles go to outDir. */
  readonly cpuProf: boolean;
}

/** The options of `floodgate bench` that the lifecycle scenario reads (strings as typed). */
export interface RawLifecycleOptions {
  readonly buyers?: string;
  readonly users?: string;
  readonly compare?: string;
  readonly runs?: string;
  readonly connections?: string;
  readonly targetEnv?: readonly string[];
  readonly infra?: string;
  readonly out?: string;
  readonly jsonOnly?: boolean;
  readonly cpuProf?: boolean;
}

/** Options of other scenarios that mean nothing here: refused rather than silently ignored. */
const NOT_FOR_LIFECYCLE = [
  "duration",
  "requests",
  "rate",
  "stock",
  "warmup",
  "writeRate",
  "batchSize",
  "products",
  "zipf",
  "mix",
  "url",
  "databaseUrl",
  "atFractionOfMax",
  "seed",
] as const;

function integer(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new BenchOptionError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return Number(text);
}

const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function resolveLifecycleOptions(raw: RawLifecycleOptions): LifecycleOptions {
  for (const name of NOT_FOR_LIFECYCLE) {
    if ((raw as Readonly<Record<string, unknown>>)[name] !== undefined)
      throw new BenchOptionError(`${flag(name)} is not an option of the lifecycle scenario`);
  }
  if (raw.buyers !== undefined && raw.users !== undefined && raw.buyers !== raw.users) {
    throw new BenchOptionError("give --buyers (or its alias --users), not both");
  }
  const compare = (raw.compare ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of compare) {
    if (!(LIFECYCLE_BASELINES as readonly string[]).includes(name)) {
      throw new BenchOptionError(
        `the lifecycle scenario compares with: ${LIFECYCLE_BASELINES.join(", ")}; got "${name}"`,
      );
    }
  }
  const infra = (raw.infra ?? "embedded") as Infra;
  if (!INFRAS.includes(infra))
    throw new BenchOptionError(`unknown --infra "${raw.infra}": expected ${INFRAS.join(" or ")}`);
  const targetEnv: Record<string, string> = {
    ...INFRA_PRESETS[infra],
    ...parseTargetEnv(raw.targetEnv ?? []), // the other scenarios' rule: FLOODGATE_* only, servers on 127.0.0.1
  };
  const carrierSeconds = integer(
    "target-env FLOODGATE_CARRIER_DELIVERY_SECONDS",
    targetEnv.FLOODGATE_CARRIER_DELIVERY_SECONDS ?? String(LIFECYCLE_DEFAULTS.carrierSeconds),
    0,
    60,
  );
  return {
    scenario: "lifecycle",
    buyers: integer("buyers", raw.buyers ?? raw.users ?? String(LIFECYCLE_DEFAULTS.buyers), 1, 50_000),
    compare: LIFECYCLE_BASELINES.filter((name) => compare.includes(name)),
    runs: integer("runs", raw.runs ?? String(LIFECYCLE_DEFAULTS.runs), 1, 20),
    carrierSeconds,
    confirmConcurrency: integer(
      "connections",
      raw.connections ?? String(LIFECYCLE_DEFAULTS.confirmConcurrency),
      1,
      1000,
    ),
    drainTimeoutSeconds: LIFECYCLE_DEFAULTS.drainTimeoutSeconds,
    targetEnv: { ...targetEnv, FLOODGATE_CARRIER_DELIVERY_SECONDS: String(carrierSeconds) },
    infra,
    outDir: raw.out ?? LIFECYCLE_DEFAULTS.outDir,
    jsonOnly: raw.jsonOnly === true,
    cpuProf: raw.cpuProf === true,
  };
}
