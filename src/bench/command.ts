import { type Command, InvalidArgumentError } from "commander";
import { LIFECYCLE_DEFAULTS } from "./lifecycle/lifecycle-options.js";
import {
  BASELINES_FOR,
  BenchOptionError,
  COMMON_DEFAULTS,
  INFRA_PRESETS,
  INFRAS,
  parseScenario,
  type RawBenchOptions,
  resolveBenchOptions,
  SCENARIO_DEFAULTS,
  SCENARIOS,
} from "./options.js";
import { P99_AT_FRACTION } from "./report/build-report.js";
import { SOAK_DEFAULTS } from "./soak/soak-options.js";

const flashDefaults = SCENARIO_DEFAULTS["flash-sale"];
const lengthOf = (scenario: keyof typeof SCENARIO_DEFAULTS) => {
  const length = SCENARIO_DEFAULTS[scenario].length;
  return length.kind === "requests" ? `${length.count} requests` : `${length.seconds} s`;
};

/** The help text is built from the same defaults the code applies, so the two cannot disagree. */
const HELP_AFTER = `
Scenarios:
  catalog-read  GET /products/:id, ids Zipf-distributed over a seeded catalog (cache warmed first)
  flash-sale    a burst of distinct buyers (own token, own Idempotency-Key) POSTing /orders for one
                SKU, far more buyers than stock; waits for the backlog to drain, then checks the
                invariants through the target's API and exits non-zero on any FAIL
  accept        the flash sale's burst with stock for every buyer (default: twice what they may
                buy) and no write ceiling, so every request is an accept: the accept path alone.
                Same invariants, plus goals against the ceiling: req/s ≥ 0.30× and CPU per order
                ≤ 4× the ceiling's CPU per request
  mixed         browse / order / status poll in the --mix proportions
  lifecycle     --buyers (${LIFECYCLE_DEFAULTS.buyers}) buyers each order and open a payment (not measured), then every
                payment is confirmed at the bundled simulator in one burst (--connections
                ${LIFECYCLE_DEFAULTS.confirmConcurrency} in flight); the carrier simulator ships (FLOODGATE_CARRIER_DELIVERY_SECONDS
                ${LIFECYCLE_DEFAULTS.carrierSeconds} unless --target-env says otherwise), orders complete, emails go to the .eml
                catcher, points are awarded. Reports the webhook's p50/p99 (as the simulator timed
                each POST /webhooks/payments), confirmation-email latency p50/p99 (confirmed →
                caught), paid→completed orders/s; after the drain checks through the admin APIs
                that no order is left created/paid/shipped and each completed order has one email
                of each kind and one points award (exit 1 on any FAIL). --compare sync: the same
                burst against a synchronous webhook that does every step inline (sync-server.ts);
                the summary gives the webhook p99 ratio against the issue's targets. Takes
                --buyers, --connections, --compare sync, --runs, --target-env, --infra, --out, --cpu-prof,
                --json-only; servers: --target-env FLOODGATE_DATABASE_URLS=postgres://root@127.0.0.1:5432/test
                FLOODGATE_QUEUE_URL=nats://127.0.0.1:4222 (each run gets databases of its own)
  soak          --orders (${SOAK_DEFAULTS.orders.toLocaleString("en-US")}) accepted orders through ONE Floodgate (started with node
                --expose-gc, no write ceiling) into one sale of --stock (${SOAK_DEFAULTS.stock.toLocaleString("en-US")}) units, from --buyers
                (${SOAK_DEFAULTS.buyers.toLocaleString("en-US")}) buyers in turn (per-buyer limit ${SOAK_DEFAULTS.perUserLimit}), each request its own Idempotency-Key,
                --connections (${SOAK_DEFAULTS.connections}) in flight. Every --every (${SOAK_DEFAULTS.every.toLocaleString("en-US")}, or --orders if fewer) accepted
                orders: waits until all are stored, then reads heap and RSS after a forced GC
                (GET /admin/diagnostics/memory) and inventory_sweep_seconds_total on /metrics (n/a when
                absent). Restarts the target on the same data with no orders and at the end
                (--restart-at-checkpoints: at every checkpoint too), timed until /readyz answers.
                Reports bytes retained per stored order (the heap's slope from 200,000 orders, or a
                fifth of a shorter run, to the end; target ≤ 16), whether the heap stays flat within
                10 % over that window, the sweeper's ms per second per interval, and each restart's
                time. Takes --orders, --every, --buyers, --stock, --connections,
                --restart-at-checkpoints, --target-env, --infra, --out, --json-only; servers:
                --target-env FLOODGATE_DATABASE_URLS=postgres://root@127.0.0.1:5432/test
                FLOODGATE_QUEUE_URL=nats://127.0.0.1:4222 FLOODGATE_STOCK_URL=redis://127.0.0.1:6379

Defaults per scenario:
  catalog-read  ${lengthOf("catalog-read")}, ${SCENARIO_DEFAULTS["catalog-read"].connections} connections, warm-up ${SCENARIO_DEFAULTS["catalog-read"].warmup} (every product is read once before the run anyway)
  flash-sale    ${lengthOf("flash-sale")}, ${flashDefaults.connections} connections, stock ${flashDefaults.stock}, one buyer per request (${flashDefaults.users} with --duration), warm-up ${flashDefaults.warmup}
  accept        ${lengthOf("accept")}, ${SCENARIO_DEFAULTS.accept.connections} connections, stock ${SCENARIO_DEFAULTS.accept.stock} × buyers, one buyer per request, no write ceiling, warm-up ${SCENARIO_DEFAULTS.accept.warmup}
  mixed         ${lengthOf("mixed")}, ${SCENARIO_DEFAULTS.mixed.connections} connections, stock ${SCENARIO_DEFAULTS.mixed.stock}, ${SCENARIO_DEFAULTS.mixed.users} buyers, warm-up ${SCENARIO_DEFAULTS.mixed.warmup}

Baselines (--compare): ceiling (bare node:http, fixed JSON body) for every scenario; naive (one
database transaction per order, no cache, no queue) for ${Object.entries(BASELINES_FOR)
  .filter(([, baselines]) => baselines.includes("naive"))
  .map(([scenario]) => scenario)
  .join(", ")}.
Shared servers:
${INFRAS.filter((name) => name !== "embedded")
  .map(
    (name) =>
      `  --infra ${name}  ${Object.entries(INFRA_PRESETS[name])
        .map(([key, value]) => `${key}=${value}`)
        .join(`\n${" ".repeat(12 + name.length)}`)}`,
  )
  .join("\n")}
  (sold-out news then go over the stock Redis; the database stays PGlite). With --infra, or
  --target-env FLOODGATE_QUEUE_URL / _STOCK_URL / _CACHE_URL / _BROADCAST_URL on a server, every run
  gets its own FLOODGATE_QUEUE_PREFIX, _STOCK_PREFIX and _CACHE_PREFIX (a prefix given with
  --target-env is the stem the run's tag is appended to), so no two runs share streams or keys; the
  run's JetStream streams and Redis keys are deleted after it, also on Ctrl-C. Those servers' CPU is
  measured and counted with the target's (the "servers" column).

--at-fraction-of-max <f>: Floodgate alone, closed model, --runs times, finds the maximum req/s (the
median); then every target is measured in the open model at f × that. The ${P99_AT_FRACTION.maxMs} ms p99 target
is judged at f = ${P99_AT_FRACTION.fraction}.

Results: <out>/<scenario>-<time>.json and .html (and .cpuprofile with --cpu-prof); lifecycle and
soak write .json and .md.
Examples:
  floodgate bench flash-sale --compare ceiling,naive --runs 3
  floodgate bench catalog-read --duration 15 --compare ceiling
  floodgate bench flash-sale --rate 3000 --requests 30000 --cpu-prof
  floodgate bench flash-sale --infra redis-jetstream --compare ceiling,naive --runs 3
  floodgate bench flash-sale --infra redis-jetstream --at-fraction-of-max ${P99_AT_FRACTION.fraction} --runs 3
  floodgate bench lifecycle --buyers 2000 --compare sync --runs 3
  floodgate bench soak --orders 1000000 --every 100000
`;

const asScenario = (value: string) => {
  if (value === "lifecycle" || value === "soak") return value;
  try {
    return parseScenario(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/** Adds `floodgate bench <scenario>` (and `floodgate bench-summary <result.json>`) to the CLI. */
export function registerBenchCommand(program: Command): void {
  program
    .command("bench-summary")
    .description(
      "Render the Markdown summary of a bench result JSON again (after the summary format changed).",
    )
    .argument("<result.json>", "a result written by floodgate bench")
    .action(async (file: string) => {
      const { readFileSync } = await import("node:fs");
      const { renderMarkdownSummary } = await import("./report/markdown-summary.js");
      const report = JSON.parse(readFileSync(file, "utf8")) as Parameters<typeof renderMarkdownSummary>[0];
      process.stdout.write(renderMarkdownSummary(report));
    });

  program
    .command("bench")
    .description(
      "Measure Floodgate under load (and against baselines), check the invariants, write a report.",
    )
    .argument("<scenario>", [...SCENARIOS, "lifecycle", "soak"].join(" | "), asScenario)
    .option("--duration <seconds>", "run for this long (default: per scenario, see below)")
    .option("--requests <n>", "send exactly this many requests instead of running for a time")
    .option("--connections <n>", "connections (closed model: concurrent clients; open model: the most used)")
    .option(
      "--rate <req/s>",
      "open model: send at this fixed rate whatever the answers (default: closed model)",
    )
    .option(
      "--generator <name>",
      "wrk (C; the closed model of catalog-read, flash-sale and accept) or node (JavaScript; also the open model and mixed); default: wrk where it can drive the run and is on PATH, else node",
    )
    .option("--stock <units>", "units on sale (flash-sale, accept, mixed, soak)")
    .option("--users <n>", "distinct buyers, each with its own token and Idempotency-Key")
    .option(
      "--buyers <n>",
      `lifecycle: buyers who each order, pay and are mailed (default ${LIFECYCLE_DEFAULTS.buyers})`,
    )
    .option(
      "--orders <n>",
      `soak: accepted orders to push through the one target (default ${SOAK_DEFAULTS.orders})`,
    )
    .option(
      "--every <n>",
      `soak: a checkpoint (heap after GC, RSS) every n accepted orders (default ${SOAK_DEFAULTS.every})`,
    )
    .option("--restart-at-checkpoints", "soak: also restart the target (timed) at every checkpoint")
    .option(
      "--warmup <requests>",
      "unmeasured requests first, so the target's JIT is warm (0 = measure a cold start)",
    )
    .option(
      "--write-rate <orders/s>",
      `the target's FLOODGATE_ORDER_WRITE_RATE; 0 = no ceiling (default ${COMMON_DEFAULTS.writeRate}; accept: 0)`,
    )
    .option(
      "--batch-size <n>",
      "the target's FLOODGATE_ORDER_BATCH_SIZE (default: a tenth of a second of --write-rate, 500 without one)",
    )
    .option("--products <n>", `catalog size for catalog-read and mixed (default ${COMMON_DEFAULTS.products})`)
    .option("--zipf <s>", `Zipf exponent of product popularity (default ${COMMON_DEFAULTS.zipfExponent})`)
    .option("--mix <b/o/p>", `mixed: browse/order/poll proportions (default ${COMMON_DEFAULTS.mix})`)
    .option("--url <url>", "bench this already-running server (127.0.0.1) instead of starting one")
    .option(
      "--compare <baselines>",
      "also run baselines with identical load: ceiling, naive (comma-separated); sync for lifecycle",
    )
    .option("--runs <k>", `repeat every target k times and report medians (default ${COMMON_DEFAULTS.runs})`)
    .option("--database-url <url>", "the naive baseline uses this PostgreSQL (127.0.0.1) instead of PGlite")
    .option(
      "--target-env <NAME=value...>",
      "FLOODGATE_* settings for the Floodgate the bench starts, e.g. FLOODGATE_CACHE_URL=redis://127.0.0.1:6379",
    )
    .option(
      "--infra <name>",
      `where the started Floodgate keeps live stock and orders: ${INFRAS.join(" | ")} (default embedded; see below)`,
    )
    .option(
      "--at-fraction-of-max <f>",
      "find the closed-model maximum first, then run the open model at f × it (e.g. 0.8)",
    )
    .option("--cpu-prof", "run the target under node --cpu-prof; the profile goes next to the results")
    .option("--out <dir>", `results directory (default ${COMMON_DEFAULTS.outDir})`)
    .option("--json-only", "print only the JSON result on stdout (progress still goes to stderr)")
    .option("--seed <n>", `seed of the request sequence (default ${COMMON_DEFAULTS.seed})`)
    .addHelpText("after", HELP_AFTER)
    .action(async (scenario: ReturnType<typeof asScenario>, raw: RawBenchOptions & SoakOnlyOptions) => {
      if (scenario === "lifecycle") {
        if (refuseSoakOptions(raw, "lifecycle")) return;
        return runLifecycleCommand(raw);
      }
      if (scenario === "soak") return runSoakCommand(raw);
      if (raw.buyers !== undefined) {
        process.stderr.write(
          "floodgate bench: --buyers is an option of the lifecycle and soak scenarios (use --users)\n",
        );
        process.exit(2);
      }
      if (refuseSoakOptions(raw, scenario)) return;
      let options: ReturnType<typeof resolveBenchOptions>;
      try {
        options = resolveBenchOptions(scenario, raw);
      } catch (error) {
        if (!(error instanceof BenchOptionError)) throw error;
        process.stderr.write(`floodgate bench: ${error.message}\n`);
        process.exit(2);
      }
      // Loaded only when benching: the other commands need none of the load-generation code.
      const { runBench } = await import("./run-bench.js");
      const command = ["floodgate", ...process.argv.slice(2)].join(" ");
      try {
        const { exitCode } = await runBench(
          options,
          { stdout: process.stdout, stderr: process.stderr },
          command,
        );
        process.exitCode = exitCode;
      } catch (error) {
        if (!(error instanceof BenchOptionError)) throw error;
        process.stderr.write(`floodgate bench: ${error.message}\n`);
        process.exit(2);
      }
    });
}

/** Options only the soak (and, for --buyers, lifecycle) scenario reads. */
interface SoakOnlyOptions {
  readonly buyers?: string;
  readonly orders?: string;
  readonly every?: string;
  readonly restartAtCheckpoints?: boolean;
}

/** Exits 2 when a soak-only option is given to another scenario; true when it did. */
function refuseSoakOptions(raw: SoakOnlyOptions, scenario: string): boolean {
  const given = (["orders", "every", "restartAtCheckpoints"] as const).find(
    (name) => raw[name] !== undefined,
  );
  if (given === undefined) return false;
  const flag = `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  process.stderr.write(`floodgate bench: ${flag} is an option of the soak scenario, not of ${scenario}\n`);
  process.exit(2);
  return true;
}

/** `floodgate bench soak`: its own options and runner (soak/soak-bench.ts). */
async function runSoakCommand(raw: RawBenchOptions & SoakOnlyOptions): Promise<void> {
  const { resolveSoakOptions } = await import("./soak/soak-options.js");
  let options: ReturnType<typeof resolveSoakOptions>;
  try {
    options = resolveSoakOptions(raw);
  } catch (error) {
    if (!(error instanceof BenchOptionError)) throw error;
    process.stderr.write(`floodgate bench: ${error.message}\n`);
    process.exit(2);
  }
  const { runSoakBench } = await import("./soak/soak-bench.js");
  const command = ["floodgate", ...process.argv.slice(2)].join(" ");
  const { exitCode } = await runSoakBench(
    options,
    { stdout: process.stdout, stderr: process.stderr },
    command,
  );
  process.exitCode = exitCode;
}

/** `floodgate bench lifecycle`: its own options and runner (lifecycle/lifecycle-bench.ts). */
async function runLifecycleCommand(raw: RawBenchOptions & { buyers?: string }): Promise<void> {
  const { resolveLifecycleOptions } = await import("./lifecycle/lifecycle-options.js");
  let options: ReturnType<typeof resolveLifecycleOptions>;
  try {
    options = resolveLifecycleOptions(raw);
  } catch (error) {
    if (!(error instanceof BenchOptionError)) throw error;
    process.stderr.write(`floodgate bench: ${error.message}\n`);
    process.exit(2);
  }
  const { runLifecycleBench } = await import("./lifecycle/lifecycle-bench.js");
  const command = ["floodgate", ...process.argv.slice(2)].join(" ");
  const { exitCode } = await runLifecycleBench(
    options,
    { stdout: process.stdout, stderr: process.stderr },
    command,
  );
  process.exitCode = exitCode;
}
