import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuMs } from "../cpu-accounting.js";
import { forEachLimited } from "../seed.js";
import {
  captureOutput,
  REPOSITORY_ROOT,
  stopChild,
  TYPESCRIPT_EXEC_ARGV,
  trackChild,
  trackTemporaryDirectory,
} from "../target/child-process.js";
import {
  LIFECYCLE_PRICE_CENTS,
  type LifecycleRunContext,
  providerPaymentOrders,
  type SimulatorDelivery,
  summarize,
  waitFor,
  webhookTimings,
} from "./lifecycle-floodgate.js";
import { JsonClient, postAbsolute } from "./lifecycle-http.js";
import { checkSyncInvariants } from "./lifecycle-invariants.js";
import type { LifecycleRunRecord } from "./lifecycle-record.js";
import type { SyncServerConfig, SyncServerReady } from "./sync-server.js";

const SERVER_MODULE = fileURLToPath(new URL("./sync-server.ts", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const SETUP_CONCURRENCY = 16;

export interface RunningSyncServer {
  readonly url: string;
  readonly simulatorUrl: string;
  readonly pid: number | null;
  output(): string;
  stop(): Promise<unknown>;
}

/** Forks the sync baseline and resolves once it listens (it reports its ports over IPC). */
export async function startSyncServer(config: SyncServerConfig): Promise<RunningSyncServer> {
  const child = fork(SERVER_MODULE, [JSON.stringify(config)], {
    cwd: REPOSITORY_ROOT,
    execArgv: [...TYPESCRIPT_EXEC_ARGV],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  trackChild(child);
  const output = captureOutput(child);
  const ready = await new Promise<SyncServerReady>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the sync baseline did not start within ${READY_TIMEOUT_MS} ms:\n${output()}`));
    }, READY_TIMEOUT_MS);
    child.once("message", (message: SyncServerReady) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the sync baseline exited (${signal ?? code}) while starting:\n${output()}`));
    });
  });
  return {
    url: `http://127.0.0.1:${ready.port}`,
    simulatorUrl: ready.simulatorUrl,
    pid: child.pid ?? null,
    output,
    stop: () => stopChild(child),
  };
}

/**
 * One run of the synchronous design under the same burst: N created orders (seeded directly: the
 * baseline has no intake), one payment each opened at its simulator with the baseline's webhook as
 * the notify URL, all confirmed at once as for Floodgate; waits until every notification is taken,
 * then checks what the baseline stored.
 */
export async function runSyncLifecycle(
  context: LifecycleRunContext,
  run: number,
): Promise<LifecycleRunRecord> {
  const { options, progress } = context;
  const label = `sync run ${run}/${options.runs}`;
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-bench-sync-"));
  const untrack = trackTemporaryDirectory(dataDir);
  const databaseUrl = options.targetEnv.FLOODGATE_DATABASE_URLS?.split(",")[0] ?? null;
  const pointsPerUnit = Number(options.targetEnv.FLOODGATE_LOYALTY_POINTS_PER_CURRENCY_UNIT ?? "1") || 1;
  progress.begin(`${label}: starting the sync baseline`);
  try {
    const server = await startSyncServer({
      webhookSecret: randomBytes(32).toString("hex"),
      databaseUrl,
      dataDir: join(dataDir, "db"),
      mailDir: join(dataDir, "mail"),
      pointsPerUnit,
    });
    const client = new JsonClient(server.url, 4);
    const simulator = new JsonClient(server.simulatorUrl, SETUP_CONCURRENCY);
    try {
      const startedAt = new Date().toISOString();
      const orders = Array.from({ length: options.buyers }, (_, i) => ({
        id: String(700_000_000_000_000_000n + BigInt(i)),
        userId: `sync-${i}`,
        amountCents: LIFECYCLE_PRICE_CENTS,
      }));
      await client.expect(201, "POST", "/seed", { body: { orders } });
      const redirectUrls = new Array<string>(orders.length);
      await forEachLimited(orders, SETUP_CONCURRENCY, async (order, i) => {
        const paymentId = `pay_sync_${i}`;
        const payment = await simulator.expect<{ redirectUrl: string }>(201, "POST", "/v1/payments", {
          headers: { "idempotency-key": paymentId },
          body: {
            paymentId,
            orderId: order.id,
            amountCents: order.amountCents,
            currency: "EUR",
            notifyUrl: `${server.url}/webhooks/payments`,
            returnUrl: `${server.url}/orders/${order.id}`,
          },
        });
        redirectUrls[i] = payment.redirectUrl;
      });
      progress.note(`${label}: ${orders.length} payments opened; confirming them all at once`, true);

      const cpuBefore = server.pid === null ? null : processCpuMs(server.pid);
      const burstStarted = Date.now();
      const confirmedAt = new Map<string, number>();
      await forEachLimited(redirectUrls, options.confirmConcurrency, async (redirectUrl, i) => {
        const answer = await postAbsolute(`${redirectUrl}/confirm`);
        if (answer.status !== 200) throw new Error(`POST ${redirectUrl}/confirm answered ${answer.status}`);
        confirmedAt.set(orders[i]!.id, Date.now());
      });
      const confirmBurstMs = Date.now() - burstStarted;
      progress.note(
        `${label}: ${orders.length} payments confirmed in ${confirmBurstMs} ms; waiting for the webhooks`,
        true,
      );
      let deliveries: SimulatorDelivery[] = [];
      await waitFor("every notification to be taken", options.drainTimeoutSeconds * 1000, async () => {
        deliveries = (
          await simulator.expect<{ items: SimulatorDelivery[] }>(200, "GET", "/test/notifications")
        ).items;
        const open = deliveries.filter((delivery) => delivery.status === "pending").length;
        progress.note(`${label}: ${deliveries.length - open} of ${orders.length} notifications taken`);
        return deliveries.length >= orders.length && open === 0;
      });
      const drainSeconds = (Date.now() - burstStarted) / 1000;
      const cpuAfter = server.pid === null ? null : processCpuMs(server.pid);
      const audit = await client.expect<{
        orders: { id: string; status: string }[];
        payments: { orderId: string }[];
        shipments: { orderId: string }[];
        emails: { orderId: string; kind: string; sentAt: string }[];
        points: { orderId: string; kind: string; points: number }[];
      }>(200, "GET", "/audit");
      const providerToOrder = await providerPaymentOrders(simulator);
      const emailLatencies = audit.emails.flatMap((email) => {
        const confirmed = confirmedAt.get(email.orderId);
        return confirmed === undefined ? [] : [new Date(email.sentAt).getTime() - confirmed];
      });
      return {
        target: "sync",
        run,
        startedAt,
        buyers: orders.length,
        confirmBurstMs,
        webhook: webhookTimings(deliveries),
        webhookServerP99UpperBoundMs: null,
        confirmationEmail: summarize(emailLatencies),
        completedPerSecond: null,
        paidPerSecond: null,
        drainSeconds,
        invariants: checkSyncInvariants({
          paidOrderIds: orders.map((order) => order.id),
          ...audit,
          expectedPointsPerOrder: Math.floor(LIFECYCLE_PRICE_CENTS / 100) * pointsPerUnit,
          deliveries: deliveries
            .filter((delivery) => delivery.type === "payment.succeeded")
            .map((delivery) => ({
              orderId: providerToOrder.get(delivery.providerPaymentId) ?? "?",
              status: delivery.status,
            })),
        }),
        targetCpuCores:
          cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / 1000 / drainSeconds : null,
      };
    } catch (error) {
      throw new Error(`${label} failed: ${(error as Error).message}\nbaseline output:\n${server.output()}`, {
        cause: error,
      });
    } finally {
      await client.close();
      await simulator.close();
      await server.stop();
    }
  } finally {
    untrack();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
