import { AsyncLocalStorage } from "node:async_hooks";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/platform/db/database.js";
import { runMigrations } from "../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../src/platform/db/pglite-database.js";
import { createShardRouter } from "../../src/platform/db/shard-router.js";
import { AppError } from "../../src/platform/errors/catalogue.js";
import { SnowflakeGenerator } from "../../src/platform/ids/snowflake.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import type { CatalogApi } from "../../src/services/catalog/api.js";
import type { InventoryApi } from "../../src/services/inventory/api.js";
import { DriftWatch } from "../../src/services/inventory/drift-watch.js";
import { inventoryService } from "../../src/services/inventory/index.js";
import { ReservationSweeper } from "../../src/services/inventory/reservation-sweeper.js";
import { RELEASE_DEADLINE_MS } from "../../src/services/inventory/stock-reservations.js";
import { ordersService } from "../../src/services/orders/index.js";
import { OrderIntake } from "../../src/services/orders/intake.js";
import { ORDER_REQUESTS_TOPIC } from "../../src/services/orders/order-request.js";
import { OrderWriter } from "../../src/services/orders/order-writer.js";
import { SoldOutFlags } from "../../src/services/orders/sold-out-flags.js";
import type { ServiceClients } from "../../src/services/service-module.js";
import { inventoryParts } from "../support/inventory-parts.js";
import { RewindableBook } from "../support/rewindable-book.js";
import { type AppendFate, ScriptedStream } from "../support/scripted-stream.js";

/**
 * The race explorer: fast-check's scheduler drives the real intake, inventory and order worker
 * through generated interleavings — two intakes, a few users sharing keys, appends that succeed,
 * fail, hang or land and then fail, calls to the inventory that fail or lose their answer, two
 * workers with redelivery, expiry, reconciliation and the book sent back in time — and checks every
 * invariant after each schedule. A failure prints the seed and path: replay it with
 * FLOODGATE_EXPLORER_SEED=<seed> FLOODGATE_EXPLORER_PATH=<path>.
 */

const RUNS = Number(process.env.FLOODGATE_EXPLORER_RUNS ?? 1000);
const TTL_MS = 60_000;
const SKU = "RACE";

type CallFault = "none" | "fail" | "applied-then-fail";

interface RequestPlan {
  readonly user: string;
  readonly key: string | undefined;
  readonly quantity: number;
  readonly intake: number;
  /** Fates of its first and second append (a replay appends again). */
  readonly appends: readonly AppendFate[];
  readonly reserveFault: CallFault;
  readonly settleFault: CallFault;
  /** After a 503, retry with the same key through this intake (when it has a key). */
  readonly retryVia: number | undefined;
}

type Event =
  | { readonly kind: "redeliver" }
  | { readonly kind: "expire" }
  | { readonly kind: "reconcile" }
  | { readonly kind: "rewind"; readonly fraction: number };

interface Scenario {
  readonly stock: number;
  readonly limit: number;
  readonly requests: readonly RequestPlan[];
  readonly workers: number;
  readonly workerSteps: number;
  readonly events: readonly Event[];
}

const fault = fc.constantFrom<CallFault>("none", "none", "none", "fail", "applied-then-fail");
const requestPlan: fc.Arbitrary<RequestPlan> = fc.record({
  user: fc.constantFrom("u1", "u2", "u3"),
  key: fc.constantFrom<string | undefined>("k1", "k1", "k2", undefined),
  quantity: fc.constantFrom(1, 1, 2),
  intake: fc.constantFrom(0, 1),
  appends: fc.array(fc.constantFrom<AppendFate>("ok", "ok", "fail", "lands-then-fails"), {
    minLength: 2,
    maxLength: 2,
  }),
  reserveFault: fault,
  settleFault: fault,
  retryVia: fc.constantFrom<number | undefined>(0, 1, undefined),
});
const event: fc.Arbitrary<Event> = fc.oneof(
  fc.constant({ kind: "redeliver" as const }),
  fc.constant({ kind: "expire" as const }),
  fc.constant({ kind: "reconcile" as const }),
  fc.record({ kind: fc.constant("rewind" as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
);
const scenario: fc.Arbitrary<Scenario> = fc.record({
  stock: fc.integer({ min: 1, max: 4 }),
  limit: fc.integer({ min: 1, max: 2 }),
  requests: fc.array(requestPlan, { minLength: 1, maxLength: 5 }),
  workers: fc.integer({ min: 1, max: 2 }),
  workerSteps: fc.integer({ min: 0, max: 3 }),
  events: fc.array(event, { maxLength: 3 }),
});

/** What one request was answered, and the order ids it answered for (its own, or the one it replays). */
interface Outcome {
  readonly user: string;
  readonly key: string | undefined;
  answer: { status: number; orderId?: string; code?: string };
  readonly touched: Set<string>;
}

describe("race explorer: intake, inventory and worker under generated interleavings", () => {
  let db: Database;
  const logger = createLogger("silent");

  beforeAll(async () => {
    db = await openPgliteDatabase({ name: "race-explorer" });
    await runMigrations(db, "inventory", inventoryService.migrationsDir);
    await runMigrations(db, "orders", ordersService.migrationsDir);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  async function explore(s: fc.Scheduler, plan: Scenario): Promise<void> {
    await db.query("TRUNCATE inventory.reservations, inventory.stock, orders.orders");
    let scheduling = true;
    const point = (label: string) => (scheduling ? s.schedule(Promise.resolve(), label) : Promise.resolve());
    const requestOf = new AsyncLocalStorage<{
      id: number;
      plan: RequestPlan;
      appends: number;
      outcome: Outcome;
    }>();

    let clock = Date.parse("2026-12-01T12:00:00Z");
    const book = new RewindableBook(() => clock);
    const { broadcast, metrics, store, loader, reservations, reconciliation, inventory } = inventoryParts({
      book,
      db,
      logger,
      ttlMs: TTL_MS,
    });
    const driftWatch = new DriftWatch(
      reconciliation,
      book,
      loader,
      metrics.gauge("inventory_stock_drift_units", "Drift.", ["sku", "state"]),
      logger,
    );

    const stream = new ScriptedStream({ fetchWaitMs: 0 });
    const group = stream.group(ORDER_REQUESTS_TOPIC, "order-writers", {
      visibilityTimeoutMs: 1,
      maxAttempts: 100,
    });
    const sweeper = new ReservationSweeper({
      book,
      store,
      reservations,
      backlog: async () => ({ pending: await group.lag(), deadLettered: { orderIds: [], complete: true } }),
      log: logger,
    });
    // The sale opens before the scenario's clock, and never closes during it.
    await inventory.defineStock({
      sku: SKU,
      stock: plan.stock,
      perUserLimit: plan.limit,
      startsAt: new Date(clock - 3_600_000).toISOString(),
      endsAt: new Date(clock + 365 * 86_400_000).toISOString(),
    });

    // Every call from an intake to the inventory is a scheduled request and a scheduled reply, and
    // may fail before it is applied, or be applied with its answer lost.
    const viaNetwork = (label: string): InventoryApi =>
      new Proxy(inventory, {
        get(target, op: string) {
          const call = (target as unknown as Record<string, (input: unknown) => Promise<unknown>>)[op]!;
          return async (input: { orderId?: string }) => {
            const request = requestOf.getStore();
            const name = `${label} ${op} ${input.orderId ?? ""} (request ${request?.id ?? "-"})`;
            let planned: CallFault = "none";
            if (request && op === "reserve") planned = request.plan.reserveFault;
            if (request && op === "settle") planned = request.plan.settleFault;
            if (request && planned !== "none") {
              // A fault happens once per request and operation.
              request.plan = { ...request.plan, [op === "reserve" ? "reserveFault" : "settleFault"]: "none" };
            }
            await point(`${name}: sent`);
            if (planned === "fail") throw new AppError("dependency_failed", "scripted");
            if (request && input.orderId) request.outcome.touched.add(input.orderId);
            const result = (await call.call(target, input)) as {
              outcome?: string;
              orderId?: string;
              quantity?: number;
            };
            // A replay (same key, same body) answers for the first request's order; a different
            // body is refused and answers for nothing.
            if (
              request &&
              result?.outcome === "duplicate" &&
              result.orderId &&
              result.quantity === request.plan.quantity
            )
              request.outcome.touched.add(result.orderId);
            await point(`${name}: answered`);
            if (planned === "applied-then-fail") throw new AppError("dependency_timeout", "scripted");
            return result;
          };
        },
      });

    const catalog: CatalogApi = {
      productBySku: async ({ sku }) =>
        sku === SKU
          ? {
              id: "1",
              sku,
              name: "x",
              priceCents: 100,
              currency: "EUR",
              version: 1,
              createdAt: "",
              updatedAt: "",
            }
          : null,
      productById: async () => null,
    };
    // Appends are scheduled twice: when the message reaches the broker, and when its answer comes.
    stream.onAppend = async (dedupId) => {
      const request = requestOf.getStore();
      const fate = request?.plan.appends[request.appends++] ?? "ok";
      await point(`append ${dedupId} (request ${request?.id ?? "-"}): reaches the broker`);
      return {
        fate,
        replied: () => point(`append ${dedupId} (request ${request?.id ?? "-"}): ${fate}, answered`),
      };
    };
    const intakes = [0, 1].map(
      (i) =>
        new OrderIntake({
          clients: { catalog, inventory: viaNetwork(`intake ${i}`) } as unknown as ServiceClients,
          stream,
          ids: new SnowflakeGenerator(i + 1),
          logger,
          metrics: new Metrics({}, { processMetrics: false }),
          soldOut: new SoldOutFlags(broadcast),
          // The book's clock is the test's; the intake times its appends by the real one, which
          // never gets near this within a schedule (test/services/orders/accept-races.test.ts
          // covers the slow append).
          reservationTtlMs: TTL_MS,
        }),
    );
    const writer = new OrderWriter({
      group,
      databases: createShardRouter([db]),
      inventory: viaNetwork("worker"),
      logger,
      metrics: new Metrics({}, { processMetrics: false }),
      batchSize: 5,
      writeRate: 0,
    });
    const workerStep = async (label: string) => {
      await point(`${label}: fetch`);
      const deliveries = await group.fetch(5, 0);
      if (deliveries.length === 0) return;
      await writer.storeBatch(deliveries).catch(async () => {
        await Promise.all(deliveries.map((d) => d.nak()));
      });
    };

    const outcomes: Outcome[] = [];
    let requestIds = 0;
    const place = async (requestPlan: RequestPlan, via: number): Promise<Outcome> => {
      const outcome: Outcome = {
        user: requestPlan.user,
        key: requestPlan.key,
        answer: { status: 0 },
        touched: new Set(),
      };
      outcomes.push(outcome);
      const id = ++requestIds;
      await point(
        `request ${id}: ${requestPlan.user} ${requestPlan.key ?? "(no key)"} ×${requestPlan.quantity} via intake ${via}`,
      );
      await requestOf.run({ id, plan: requestPlan, appends: 0, outcome }, async () => {
        try {
          const orderId = await intakes[via]!.place({
            userId: requestPlan.user,
            sku: SKU,
            quantity: requestPlan.quantity,
            idempotencyKey: requestPlan.key,
          });
          outcome.answer = { status: 202, orderId };
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          outcome.answer = { status: error.status, code: error.code, ...(error.details ?? {}) };
        }
      });
      return outcome;
    };

    const tasks: Promise<unknown>[] = [];
    for (const request of plan.requests) {
      tasks.push(
        (async () => {
          const first = await place(request, request.intake);
          if (first.answer.status === 503 && request.key !== undefined && request.retryVia !== undefined) {
            await place(
              { ...request, appends: ["ok", "ok"], reserveFault: "none", settleFault: "none" },
              request.retryVia,
            );
          }
        })(),
      );
    }
    for (let w = 0; w < plan.workers; w++) {
      tasks.push(
        (async () => {
          for (let step = 0; step < plan.workerSteps; step++) await workerStep(`worker ${w} step ${step}`);
        })(),
      );
    }
    plan.events.forEach((e, index) => {
      tasks.push(
        (async () => {
          await point(`event ${index}: ${e.kind}`);
          switch (e.kind) {
            case "redeliver":
              stream.redeliverInFlight();
              return;
            case "expire":
              clock += TTL_MS + 1;
              await sweeper.sweep();
              return;
            case "reconcile":
              await driftWatch.check();
              return;
            case "rewind":
              book.rewind(Math.floor(e.fraction * book.changeCount));
              return;
          }
        })(),
      );
    });
    await s.waitFor(Promise.all(tasks));

    // Quiet: everything is let finish without faults, as after any incident.
    scheduling = false;
    const drain = async () => {
      for (let i = 0; i < 100 && (await group.lag()) > 0; i++) {
        stream.redeliverInFlight();
        await workerStep("final drain");
      }
      expect(await group.lag()).toBe(0);
    };
    await drain();
    await driftWatch.check(); // a book left behind the record is reloaded
    clock += TTL_MS + RELEASE_DEADLINE_MS + 1;
    await sweeper.sweep(); // undecided reservations with no order in the queue go back on sale
    await drain();

    await checkInvariants(plan, outcomes, inventory);
  }

  async function checkInvariants(plan: Scenario, outcomes: readonly Outcome[], inventory: InventoryApi) {
    const stored = new Map(
      (
        await db.query<{ id: string; user_id: string; quantity: number; status: string }>(
          "SELECT id::text AS id, user_id, quantity, status FROM orders.orders",
        )
      ).map((row) => [row.id, row]),
    );
    const acknowledged = new Set(
      outcomes.flatMap((o) => (o.answer.status === 202 ? [o.answer.orderId!] : [])),
    );
    const unknown = new Set(
      outcomes.flatMap((o) =>
        o.answer.code === "outcome_unknown" && o.answer.orderId ? [o.answer.orderId] : [],
      ),
    );
    // Every 202 is stored, exactly once (the primary key), and not cancelled.
    for (const orderId of acknowledged)
      expect(stored.get(orderId)?.status, `202 for ${orderId}`).toBe("created");
    // No stored order was answered 503 not_accepted or refused, unless a retry with its key (the
    // same buyer's) was answered 202 or "outcome unknown" for it: the buyer's last word stands.
    for (const o of outcomes) {
      if (o.answer.status === 202 || o.answer.code === "outcome_unknown") continue;
      for (const orderId of o.touched) {
        if (acknowledged.has(orderId) || unknown.has(orderId)) continue;
        expect(stored.has(orderId), `order ${orderId} stored though answered ${o.answer.code}`).toBe(false);
      }
    }
    // Nothing is stored that nobody was told of (202, or "outcome unknown" naming it).
    for (const orderId of stored.keys()) {
      expect(acknowledged.has(orderId) || unknown.has(orderId), `order ${orderId} stored unannounced`).toBe(
        true,
      );
    }
    // Sold ≤ stock; every user within the limit.
    const units = [...stored.values()].reduce((sum, o) => sum + o.quantity, 0);
    expect(units).toBeLessThanOrEqual(plan.stock);
    const byUser = new Map<string, number>();
    for (const o of stored.values()) byUser.set(o.user_id, (byUser.get(o.user_id) ?? 0) + o.quantity);
    for (const [user, held] of byUser) expect(held, `units of ${user}`).toBeLessThanOrEqual(plan.limit);
    // Stock, reservations and orders agree: the book, the rows and the stored orders.
    const [row] = await db.query<{ held: number }>("SELECT held FROM inventory.stock WHERE sku = $1", [SKU]);
    const live = await db.query<{ order_id: string; status: string }>(
      "SELECT order_id::text AS order_id, status FROM inventory.reservations WHERE status <> 'released'",
    );
    expect(
      live.filter((r) => r.status !== "confirmed"),
      "undecided reservations left",
    ).toEqual([]);
    expect(live.map((r) => r.order_id).sort()).toEqual([...stored.keys()].sort());
    expect(row!.held).toBe(units);
    expect(await inventory.levels({ sku: SKU })).toMatchObject({
      stock: plan.stock,
      reserved: 0,
      sold: units,
      available: plan.stock - units,
    });
  }

  it(
    `holds every invariant over ${RUNS} generated schedules`,
    async () => {
      const seed = process.env.FLOODGATE_EXPLORER_SEED;
      const path = process.env.FLOODGATE_EXPLORER_PATH;
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), scenario, async (s, plan) => explore(s, plan)),
        {
          numRuns: RUNS,
          ...(seed ? { seed: Number(seed) } : {}),
          ...(path ? { path } : {}),
          endOnFailure: true,
        },
      );
    },
    Math.max(600_000, RUNS * 1_000),
  );
});
