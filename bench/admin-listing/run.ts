/**
 * Issue 17, item 5: GET /admin/orders?limit=100, with and without ?status=, at a million orders.
 *
 * Starts every service in this process (embedded PGlite, or PostgreSQL with --database-url), loads
 * --orders orders straight into orders.orders with one generate_series INSERT per shard (as a sale
 * leaves them: the newest tenth `created`, older ones mostly `cancelled`, a quarter `paid`), runs
 * ANALYZE, then asks each listing --requests times in turn over HTTP, one request at a time, and
 * prints the median and p90 of each (after one warm-up round) with the plan of its query.
 *
 *   npx tsx bench/admin-listing/run.ts [--orders 1000000] [--requests 21] [--shards 1]
 *                                      [--database-url postgres://root@127.0.0.1:5432/test]
 *
 * With --database-url, the listing runs in a new database created on that server and dropped at
 * the end. Writes bench/results/admin-listing-<time>.json.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { REPOSITORY_ROOT } from "../../src/bench/target/child-process.js";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { runServices } from "../../src/runtime/run-services.js";

const option = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
};
const ORDERS = Number(option("orders") ?? 1_000_000);
const REQUESTS = Number(option("requests") ?? 21);
const SHARDS = Number(option("shards") ?? 1);
const SERVER_URL = option("database-url");

const LISTINGS = [
  "/admin/orders?limit=100",
  "/admin/orders?limit=100&status=created",
  "/admin/orders?limit=100&status=paid",
  "/admin/orders?limit=100&status=cancelled",
  "/admin/orders?limit=100&status=refunded",
];

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

/** Scratch databases on the server, one per shard, dropped at the end. */
async function scratchDatabases(serverUrl: string): Promise<{ urls: string[]; drop: () => Promise<void> }> {
  const names = Array.from({ length: SHARDS }, (_, i) => `floodgate_bench_listing_${process.pid}_${i}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    urls: names.map((name) => {
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return url.toString();
    }),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

const dataDir = mkdtempSync(join(tmpdir(), "floodgate-bench-listing-"));
const scratch = SERVER_URL ? await scratchDatabases(SERVER_URL) : undefined;
const config = loadConfig({
  env: {},
  overrides: {
    port: "0",
    dataDir,
    seedDemo: "false",
    logLevel: "silent",
    env: "development",
    embeddedShards: String(SHARDS),
    ...(scratch ? { databaseUrls: scratch.urls.join(",") } : {}),
  },
});
const running = await runServices(config, createLogger(config.logLevel));
try {
  const shards = running.platform.databases.all();
  const started = performance.now();
  for (const [index, db] of shards.entries()) {
    // Order n goes to shard n % SHARDS; its id is snowflake-shaped (time in the high bits, then the
    // virtual shard, which is the physical index here), so ids interleave across shards in time.
    const newest = ORDERS - Math.floor(ORDERS / 10);
    await db.query(
      `INSERT INTO orders.orders
         (id, user_id, sku, quantity, price_cents, currency, status, idempotency_key, history, accepted_at, payment_due_at)
       SELECT (n::bigint << 22) | (${index} << 6), 'user-' || (n % 20000), 'SKU-1', 1, 1999, 'EUR',
              CASE WHEN n > ${newest} THEN 'created'
                   WHEN n % 4 = 0 THEN 'paid' WHEN n % 10 = 1 THEN 'completed'
                   WHEN n % 1000 = 3 THEN 'refunded' ELSE 'cancelled' END,
              'bench-' || n,
              jsonb_build_array(jsonb_build_object('status', 'pending', 'at', now(), 'cause', 'accepted'),
                                jsonb_build_object('status', 'created', 'at', now(), 'cause', 'stored')),
              now(), now() + interval '1 day'
       FROM generate_series(1, ${ORDERS}) AS n WHERE n % ${SHARDS} = ${index}`,
    );
    await db.query("ANALYZE orders.orders");
  }
  const loadSeconds = (performance.now() - started) / 1000;
  console.log(`${ORDERS} orders loaded into ${shards.length} shard(s) in ${loadSeconds.toFixed(1)} s`);

  const authorization = `Bearer ${running.platform.tokens.issue({ userId: "bench-admin", admin: true })}`;
  const get = async (path: string) => {
    const response = await fetch(`${running.url}${path}`, { headers: { authorization } });
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
    return (await response.json()) as { items: unknown[]; nextCursor: string | null };
  };
  // The second page of each listing too: it starts from a cursor in the middle of the index.
  const paths: string[] = [];
  for (const listing of LISTINGS) {
    paths.push(listing);
    const { nextCursor } = await get(listing);
    if (nextCursor) paths.push(`${listing}&cursor=${nextCursor}`);
  }
  for (const path of paths) await get(path); // warm-up: compiled code and cached pages
  const samples = new Map<string, number[]>(paths.map((path) => [path, []]));
  for (let round = 0; round < REQUESTS; round++) {
    for (const path of paths) {
      const start = performance.now();
      await get(path);
      samples.get(path)!.push(performance.now() - start);
    }
  }
  const plans: Record<string, string> = {};
  const primary = shards[0]!;
  for (const status of [undefined, "cancelled"]) {
    const sql = status
      ? `SELECT * FROM orders.orders WHERE status = '${status}' AND -orders.id > -9223372036854775807 ORDER BY -orders.id LIMIT 100`
      : "SELECT * FROM orders.orders WHERE id < 9223372036854775807 ORDER BY orders.id DESC LIMIT 100";
    const plan = await primary.query<{ "QUERY PLAN": string }>(`EXPLAIN ANALYZE ${sql}`);
    plans[status ?? "(all)"] = plan.map((row) => row["QUERY PLAN"]).join("\n");
  }

  const results = paths.map((path) => {
    const times = samples.get(path)!;
    return {
      path,
      requests: times.length,
      median_ms: Number(percentile(times, 0.5).toFixed(2)),
      p90_ms: Number(percentile(times, 0.9).toFixed(2)),
      max_ms: Number(Math.max(...times).toFixed(2)),
    };
  });
  const summary = {
    date: new Date().toISOString(),
    commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPOSITORY_ROOT }).toString().trim(),
    database: scratch ? "postgresql" : "pglite",
    shards: shards.length,
    orders: ORDERS,
    loadSeconds: Number(loadSeconds.toFixed(1)),
    results,
    plans,
  };
  console.log(
    `\n${summary.database}, ${summary.shards} shard(s), ${ORDERS} orders, ${REQUESTS} requests each`,
  );
  console.log("| request | median ms | p90 ms | max ms |\n|---|---:|---:|---:|");
  for (const r of results) console.log(`| \`GET ${r.path}\` | ${r.median_ms} | ${r.p90_ms} | ${r.max_ms} |`);
  for (const [name, plan] of Object.entries(plans)) console.log(`\nplan ${name}:\n${plan}`);
  mkdirSync(join(REPOSITORY_ROOT, "bench/results"), { recursive: true });
  const out = join(REPOSITORY_ROOT, `bench/results/admin-listing-${summary.date.replaceAll(":", "-")}.json`);
  writeFileSync(out, JSON.stringify(summary, null, 2));
  console.log(`\nwritten: ${out}`);
} finally {
  await running.close();
  await scratch?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}
