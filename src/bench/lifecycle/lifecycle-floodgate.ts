import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TokenService } from "../../platform/auth/tokens.js";
import { processCpuMs } from "../cpu-accounting.js";
import type { ProgressReporter } from "../progress.js";
import { forEachLimited } from "../seed.js";
import { trackInterruptCleanup, trackTemporaryDirectory } from "../target/child-process.js";
import { startFloodgateTarget } from "../target/floodgate-target.js";
import { removeLeftovers } from "../target/run-cleanup.js";
import { hasLeftovers, RUN_TAG_LENGTH, runNamespace } from "../target/run-namespace.js";
import { createFreshDatabases, type FreshDatabases } from "./fresh-databases.js";
import { allPages, JsonClient, percentile, postAbsolute, sleep } from "./lifecycle-http.js";
import { checkLifecycleInvariants } from "./lifecycle-invariants.js";
import type { LifecycleOptions } from "./lifecycle-options.js";
import type { LatencySummary, LifecycleRunRecord } from "./lifecycle-record.js";

/** The price of the bench's product: 49.99 EUR, 49 points at the default rate of 1 a unit. */
export const LIFECYCLE_PRICE_CENTS = 4999;
const SETUP_CONCURRENCY = 16;
const NON_FINAL = ["created", "paid", "shipped"] as const;
const POLL_MS = 500;
const SETUP_TIMEOUT_MS = 300_000;

export interface LifecycleRunContext {
  readonly options: LifecycleOptions;
  readonly authSecret: string;
  readonly progress: ProgressReporter;
}

export interface SimulatorDelivery {
  readonly type: string;
  readonly url: string;
  readonly status: string;
  readonly providerPaymentId: string;
  readonly attempts: readonly { readonly status: number | null; readonly ms: number }[];
}

export function summarize(values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: values.length ? Math.max(...values) : null,
  };
}

/** Every attempt of every payment.succeeded notification, timed by the simulator. */
export function webhookTimings(deliveries: readonly SimulatorDelivery[]): LifecycleRunRecord["webhook"] {
  const succeeded = deliveries.filter((delivery) => delivery.type === "payment.succeeded");
  const times = succeeded.flatMap((delivery) => delivery.attempts.map((attempt) => attempt.ms));
  return {
    ...summarize(times),
    retried: succeeded.filter((delivery) => delivery.attempts.length > 1).length,
  };
}

/**
 * The 99th percentile's bucket bound of `http_request_duration_seconds` for the webhook route, all
 * statuses together, from a Prometheus text exposition; null when the route has no samples.
 */
export function webhookP99UpperBoundMs(metrics: string, route = "/webhooks/payments"): number | null {
  const buckets = new Map<number, number>();
  for (const line of metrics.split("\n")) {
    if (!line.startsWith("floodgate_http_request_duration_seconds_bucket{")) continue;
    if (!line.includes(`route="${route}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
  }
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total === 0) return null;
  for (const [bound, count] of [...buckets].sort((a, b) => a[0] - b[0])) {
    if (count >= 0.99 * total) return Number.isFinite(bound) ? bound * 1000 : Number.POSITIVE_INFINITY;
  }
  return null;
}

interface OrderView {
  readonly id: string;
  readonly userId: string;
  readonly status: string;
  readonly history: readonly { readonly status: string; readonly at: string }[];
}

/**
 * One Floodgate run: a fresh `floodgate start` (its own data dir, its own prefixes on shared
 * servers, its own databases on a PostgreSQL), N buyers who each order and open a payment, then the
 * measured burst: every payment confirmed at the bundled simulator, which notifies the webhook; the
 * orders are shipped by the carrier simulator, completed, mailed and awarded points. Waits for the
 * drain, then reads everything back through the admin APIs and checks the invariants.
 */
export async function runFloodgateLifecycle(
  context: LifecycleRunContext,
  run: number,
): Promise<LifecycleRunRecord> {
  const { options, progress } = context;
  const label = `floodgate run ${run}/${options.runs}`;
  const tag = randomBytes(RUN_TAG_LENGTH / 2).toString("hex");
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-bench-lifecycle-"));
  const untrackDir = trackTemporaryDirectory(dataDir);
  const namespace = runNamespace(options.targetEnv, tag);
  let databases: FreshDatabases | null = null;
  const cleanUpShared = async () => {
    const errors: string[] = [];
    if (hasLeftovers(namespace.leftovers) || namespace.leftovers.expiring.length > 0) {
      errors.push(...(await removeLeftovers(namespace.leftovers)).errors);
    }
    if (databases) errors.push(...(await databases.drop()));
    return errors;
  };
  const untrackShared = trackInterruptCleanup(cleanUpShared);
  try {
    const env: Record<string, string> = { ...options.targetEnv, ...namespace.env };
    if (env.FLOODGATE_DATABASE_URLS) {
      databases = await createFreshDatabases(env.FLOODGATE_DATABASE_URLS.split(","), tag);
      env.FLOODGATE_DATABASE_URLS = databases.urls.join(",");
    }
    progress.begin(`${label}: starting Floodgate`);
    const target = await startFloodgateTarget({
      dataDir,
      authSecret: context.authSecret,
      // Orders are stored before the measured part starts: no write ceiling for the setup.
      writeRate: 0,
      batchSize: 500,
      cpuProfileDir: options.cpuProf ? resolve(options.outDir) : null,
      env,
    });
    try {
      return await measure(context, run, label, target.url, target.pid, dataDir, tag);
    } catch (error) {
      const output = target.output();
      throw new Error(
        `${label} failed: ${(error as Error).message}${output ? `\ntarget output:\n${output}` : ""}`,
        {
          cause: error,
        },
      );
    } finally {
      await target.stop();
    }
  } finally {
    const errors = await cleanUpShared();
    if (errors.length)
      progress.note(`${label}: could not remove everything it made: ${errors.join("; ")}`, true);
    untrackShared();
    untrackDir();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measure(
  context: LifecycleRunContext,
  run: number,
  label: string,
  url: string,
  pid: number | null,
  dataDir: string,
  tag: string,
): Promise<LifecycleRunRecord> {
  const { options, progress } = context;
  const tokens = new TokenService(context.authSecret);
  const admin = tokens.issue({ userId: "bench-admin", admin: true });
  const client = new JsonClient(url, Math.max(SETUP_CONCURRENCY, options.confirmConcurrency));
  const simulatorUrl = readFileSync(join(dataDir, "payment-simulator", "address"), "utf8").trim();
  const simulator = new JsonClient(simulatorUrl, 4);
  try {
    const startedAt = new Date().toISOString();
    const sku = `LC-${tag}`;
    await client.expect(201, "POST", "/admin/products", {
      bearer: admin,
      body: { sku, name: `Lifecycle bench ${tag}`, priceCents: LIFECYCLE_PRICE_CENTS, currency: "EUR" },
    });
    await client.expect(201, "POST", "/admin/sales", {
      bearer: admin,
      body: {
        sku,
        stock: options.buyers,
        perUserLimit: 1,
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        endsAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });

    // Setup, not measured: every buyer orders, the orders are stored, each opens its payment.
    const buyers = Array.from({ length: options.buyers }, (_, i) => {
      const userId = `lc-${tag}-${i}`;
      return { userId, token: tokens.issue({ userId }) };
    });
    const orderIds = new Array<string>(buyers.length);
    await forEachLimited(buyers, SETUP_CONCURRENCY, async (buyer, i) => {
      const body = await client.expect<{ orderId: string }>(202, "POST", "/orders", {
        bearer: buyer.token,
        headers: { "idempotency-key": `lc-${tag}-${i}` },
        body: { sku, quantity: 1 },
      });
      orderIds[i] = body.orderId;
    });
    progress.note(`${label}: ${buyers.length} orders accepted; waiting until they are stored`, true);
    await waitFor(`${buyers.length} created orders`, SETUP_TIMEOUT_MS, async () => {
      const created = await allPages<OrderView>(client, "/admin/orders?status=created", "items", admin);
      return created.length >= buyers.length;
    });
    const redirectUrls = new Array<string>(buyers.length);
    await forEachLimited(buyers, SETUP_CONCURRENCY, async (buyer, i) => {
      const body = await client.expect<{ redirectUrl: string }>(
        201,
        "POST",
        `/orders/${orderIds[i]}/payment`,
        {
          bearer: buyer.token,
        },
      );
      redirectUrls[i] = body.redirectUrl;
    });
    progress.note(`${label}: ${buyers.length} payments opened; confirming them all at once`, true);

    // The measured burst.
    const cpuBefore = pid === null ? null : processCpuMs(pid);
    const burstStarted = Date.now();
    const confirmedAt = new Map<string, number>();
    await forEachLimited(redirectUrls, options.confirmConcurrency, async (redirectUrl, i) => {
      const answer = await postAbsolute(`${redirectUrl}/confirm`);
      if (answer.status !== 200) {
        throw new Error(
          `POST ${redirectUrl}/confirm answered ${answer.status}: ${JSON.stringify(answer.body)}`,
        );
      }
      confirmedAt.set(orderIds[i]!, Date.now());
    });
    const confirmBurstMs = Date.now() - burstStarted;
    progress.note(`${label}: ${buyers.length} payments confirmed in ${confirmBurstMs} ms; draining`, true);

    // The drain: nothing left created, paid or shipped, every email sent, every award made.
    await waitFor("the lifecycle to drain", options.drainTimeoutSeconds * 1000, async () => {
      for (const status of NON_FINAL) {
        const page = await client.expect<{ items: unknown[] }>(
          200,
          "GET",
          `/admin/orders?status=${status}&limit=1`,
          {
            bearer: admin,
          },
        );
        if (page.items.length > 0) {
          progress.note(`${label}: draining — orders still ${status}`);
          return false;
        }
      }
      const metrics = await client.expect<string>(200, "GET", "/metrics");
      const awarded = metricValue(
        String(metrics),
        "floodgate_loyalty_entries_total",
        'kind="award",outcome="added"',
      );
      const sent = metricValue(String(metrics), "floodgate_notifications_emails_sent_total", "kind=");
      progress.note(`${label}: draining — ${awarded ?? "?"} awards, ${sent ?? "?"} emails sent`);
      return (awarded ?? 0) >= buyers.length && (sent === null || sent >= 2 * buyers.length);
    });
    const drainSeconds = (Date.now() - burstStarted) / 1000;
    const cpuAfter = pid === null ? null : processCpuMs(pid);
    const metrics = String(await client.expect<string>(200, "GET", "/metrics"));

    // Read everything back.
    const nonFinal: Record<string, string[]> = {};
    for (const status of NON_FINAL) {
      nonFinal[status] = (
        await allPages<OrderView>(client, `/admin/orders?status=${status}`, "items", admin)
      ).map((order) => order.id);
    }
    const completed = await allPages<OrderView>(client, "/admin/orders?status=completed", "items", admin);
    const emails = await allPages<{
      orderId: string | null;
      kind: string;
      status: string;
      sentAt: string | null;
    }>(client, "/admin/mail", "messages", admin);
    const points: { orderId: string; kind: string; points: number }[] = [];
    await forEachLimited(buyers, SETUP_CONCURRENCY, async (buyer) => {
      const body = await client.expect<{ entries: { orderId: string; kind: string; points: number }[] }>(
        200,
        "GET",
        "/me/points?limit=100",
        { bearer: buyer.token },
      );
      points.push(...body.entries);
    });
    const deliveries = (
      await simulator.expect<{ items: SimulatorDelivery[] }>(200, "GET", "/test/notifications")
    ).items;
    const providerToOrder = await providerPaymentOrders(simulator);

    const ours = new Set(orderIds);
    const histories = completed.filter((order) => ours.has(order.id));
    const timeOf = (order: OrderView, status: string) => {
      const entry = order.history.find((item) => item.status === status);
      return entry ? Date.parse(entry.at) : Number.NaN;
    };
    const paidTimes = histories.map((order) => timeOf(order, "paid")).filter(Number.isFinite);
    const completedTimes = histories.map((order) => timeOf(order, "completed")).filter(Number.isFinite);
    const firstPaid = Math.min(...paidTimes);
    const emailLatencies = emails
      .filter((email) => email.kind === "order_confirmation" && email.sentAt && email.orderId)
      .flatMap((email) => {
        const confirmed = confirmedAt.get(email.orderId!);
        return confirmed === undefined ? [] : [Date.parse(email.sentAt!) - confirmed];
      });
    const invariants = checkLifecycleInvariants({
      paidOrderIds: orderIds,
      nonFinal,
      completedOrderIds: completed.map((order) => order.id),
      emails,
      points,
      expectedPointsPerOrder: Math.floor(LIFECYCLE_PRICE_CENTS / 100) * pointsPerUnit(options.targetEnv),
      deliveries: deliveries
        .filter((delivery) => delivery.type === "payment.succeeded")
        .map((delivery) => ({
          orderId: providerToOrder.get(delivery.providerPaymentId) ?? "?",
          status: delivery.status,
        })),
    });
    return {
      target: "floodgate",
      run,
      startedAt,
      buyers: buyers.length,
      confirmBurstMs,
      webhook: webhookTimings(deliveries),
      webhookServerP99UpperBoundMs: webhookP99UpperBoundMs(metrics),
      confirmationEmail: summarize(emailLatencies),
      completedPerSecond:
        completedTimes.length > 0
          ? completedTimes.length / ((Math.max(...completedTimes) - firstPaid) / 1000)
          : null,
      paidPerSecond:
        paidTimes.length > 1
          ? paidTimes.length / Math.max(0.001, (Math.max(...paidTimes) - firstPaid) / 1000)
          : null,
      drainSeconds,
      invariants,
      targetCpuCores:
        cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / 1000 / drainSeconds : null,
    };
  } finally {
    await client.close();
    await simulator.close();
  }
}

function pointsPerUnit(env: Readonly<Record<string, string>>): number {
  const value = Number(env.FLOODGATE_LOYALTY_POINTS_PER_CURRENCY_UNIT ?? "1");
  return Number.isFinite(value) ? value : 1;
}

/** providerPaymentId → orderId, from the simulator's payments. */
export async function providerPaymentOrders(simulator: JsonClient): Promise<Map<string, string>> {
  const payments = await simulator.expect<{ items: { providerPaymentId: string; orderId: string }[] }>(
    200,
    "GET",
    "/v1/payments",
  );
  return new Map(payments.items.map((payment) => [payment.providerPaymentId, payment.orderId]));
}

/** A counter's value for one label set in a Prometheus exposition; null when absent. */
export function metricValue(metrics: string, name: string, labels: string): number | null {
  let total: number | null = null;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`) || !line.includes(labels)) continue;
    total = (total ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** Polls `done` every half second until it holds, or throws after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return;
    await sleep(POLL_MS);
  }
  throw new Error(`gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s`);
}
