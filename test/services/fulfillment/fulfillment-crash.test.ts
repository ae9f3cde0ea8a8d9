import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../../src/platform/auth/tokens.js";
import { encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { openJetStream } from "../../../src/platform/queue/nats/jetstream-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { PAYMENT_EVENTS_TOPIC } from "../../../src/services/payments/payment-events.js";
import { type ChildServer, freePort, startChildServer } from "../../support/child-server.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";
import { eventually } from "../../support/test-server.js";
import { PublishedEvents } from "./fulfillment-harness.js";

const SECRET = "fulfilment-crash-test-secret-of-32-chars-at-least";
const tokens = new TokenService(SECRET);
const ADMIN = `Bearer ${tokens.issue({ userId: "ops", admin: true })}`;
const ORDERS = 150;
const DELIVERY_SECONDS = 2;

interface OrderView {
  status: string;
  history: { status: string; cause?: string; trackingNumber?: string }[];
}

const serversUp = (await serverAvailable("postgres")) && (await serverAvailable("nats"));

/**
 * The fulfilment service in a process of its own, on PostgreSQL and NATS JetStream, beside a
 * process with the order path (catalog, sales, inventory, orders). While paid orders go through
 * it, it is killed with SIGKILL three times: while shipments are being handed to the carrier,
 * while they are in transit, and while deliveries are being recorded. Afterwards every order is
 * completed, with exactly one shipment, one parcel at the carrier, one `shipment.created` and one
 * `shipment.delivered`.
 */
describe.skipIf(!serversUp)("kill -9 of the fulfilment process mid-chain", () => {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-fulfillment-crash-"));
  const prefix = `fgcrash${randomBytes(4).toString("hex")}`;
  let database: ScratchPostgresDatabase | undefined;
  let sql: pg.Pool | undefined;
  let stream: Stream | undefined;
  let published: PublishedEvents | undefined;
  let core: ChildServer | undefined;
  let fulfillment: ChildServer | undefined;
  let corePort = 0;
  let fulfillmentPort = 0;
  const kills: string[] = [];

  const env = (name: string, workerId: string): Record<string, string> => ({
    FLOODGATE_DATA_DIR: join(dir, `data-${name}`),
    FLOODGATE_AUTH_SECRET: SECRET,
    FLOODGATE_DATABASE_URLS: database!.url,
    FLOODGATE_QUEUE_URL: servers.nats.url,
    FLOODGATE_QUEUE_PREFIX: prefix,
    FLOODGATE_WORKER_ID: workerId,
    FLOODGATE_SEED_DEMO: "false",
    FLOODGATE_LOG_LEVEL: "warn",
    FLOODGATE_CARRIER_DELIVERY_SECONDS: String(DELIVERY_SECONDS),
  });
  const startFulfillment = async () => {
    fulfillment = await startChildServer(
      ["service", "fulfillment"],
      env("fulfillment", "2"),
      fulfillmentPort,
    );
  };
  const killFulfillment = async (when: string) => {
    await fulfillment!.kill("SIGKILL");
    kills.push(when);
  };
  const count = async (query: string): Promise<number> =>
    Number((await sql!.query<{ n: string }>(query)).rows[0]?.n ?? 0);
  const call = async <T>(method: string, path: string, authorization: string, body?: unknown) => {
    const response = await fetch(`http://127.0.0.1:${corePort}${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    database = await createScratchPostgresDatabase();
    sql = new pg.Pool({ connectionString: database.url, max: 2 });
    stream = await openJetStream(servers.nats.url, {
      streamPrefix: `${prefix.toUpperCase()}_`,
      subjectPrefix: prefix,
    });
    published = new PublishedEvents(stream);
    corePort = await freePort();
    fulfillmentPort = await freePort();
    core = await startChildServer(
      ["start"],
      { ...env("core", "1"), FLOODGATE_SERVICES: "catalog,sales,inventory,orders" },
      corePort,
    );
  }, 180_000);

  afterAll(async () => {
    await fulfillment?.kill("SIGKILL");
    await core?.kill("SIGKILL");
    await published?.close();
    await stream?.close();
    await sql?.end();
    await database?.drop();
    await deleteStreams(servers.nats.url, `${prefix.toUpperCase()}_`);
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!serversUp)(
    "leaves every order completed with exactly one shipment and one delivery",
    async () => {
      const product = await call("POST", "/admin/products", ADMIN, {
        sku: "CRASH-SHIP",
        name: "Crash test",
        priceCents: 500,
        currency: "EUR",
      });
      expect(product.status).toBe(201);
      const sale = await call("POST", "/admin/sales", ADMIN, {
        sku: "CRASH-SHIP",
        stock: ORDERS,
        perUserLimit: 1,
        startsAt: new Date(Date.now() - 1000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expect(sale.status).toBe(201);
      const orders = new Map<string, string>(); // order id → buyer
      await Promise.all(
        Array.from({ length: ORDERS }, async (_, i) => {
          const buyer = `crash-buyer-${i}`;
          const placed = await call<{ orderId: string }>(
            "POST",
            "/orders",
            `Bearer ${tokens.issue({ userId: buyer })}`,
            { sku: "CRASH-SHIP", quantity: 1 },
          );
          expect(placed.status).toBe(202);
          orders.set(placed.body.orderId, buyer);
        }),
      );
      await eventually(
        async () =>
          (await count("SELECT count(*) AS n FROM orders.orders WHERE status = 'created'")) === ORDERS,
        60_000,
        "every order stored",
      );

      // Paid, as the payments service announces it once the provider confirms.
      for (const [orderId, userId] of orders) {
        await stream!.append(
          PAYMENT_EVENTS_TOPIC,
          encodeEvent(
            newEvent("payment.succeeded", {
              paymentId: `pay-${orderId}`,
              orderId,
              userId,
              amountCents: 500,
              currency: "EUR",
            }),
          ),
        );
      }

      await eventually(
        async () => (await count("SELECT count(*) AS n FROM orders.orders WHERE status = 'paid'")) === ORDERS,
        60_000,
        "every order paid",
      );

      // 1: while shipments are being handed to the carrier. Every order is paid and waits, so the
      // first sweep takes a full batch, the carrier takes those parcels, and the kill comes while
      // their answers are being recorded: parcels the carrier has and the database does not know of.
      await startFulfillment();
      await eventually(
        async () =>
          (await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status <> 'requested'")) > 0,
        60_000,
        "the first shipment handed to the carrier",
      );
      await killFulfillment("dispatching");
      const unrecorded = await count(
        "SELECT (SELECT count(*) FROM carrier_simulator.shipments) - (SELECT count(*) FROM fulfillment.shipments WHERE tracking_number IS NOT NULL) AS n",
      );
      kills[kills.length - 1] += ` (${unrecorded} parcels taken, not recorded)`;
      await startFulfillment();

      // 2: while shipments are in transit (and perhaps still being dispatched).
      await eventually(
        async () =>
          (await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status = 'in_transit'")) > 0,
        60_000,
        "shipments in transit",
      );
      await killFulfillment(
        `in transit: ${await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status = 'in_transit'")} in transit`,
      );
      await startFulfillment();

      // 3: while deliveries are being recorded.
      await eventually(
        async () =>
          (await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status = 'delivered'")) > 0,
        60_000,
        "the first delivery",
      );
      await killFulfillment(
        `delivering: ${await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status = 'delivered'")} delivered`,
      );
      await startFulfillment();

      await eventually(
        async () =>
          (await count("SELECT count(*) AS n FROM orders.orders WHERE status = 'completed'")) === ORDERS,
        120_000,
        "every order completed",
      );

      // Exactly one shipment and one parcel per order, each delivered.
      expect(await count("SELECT count(*) AS n FROM fulfillment.shipments WHERE status = 'delivered'")).toBe(
        ORDERS,
      );
      expect(await count("SELECT count(DISTINCT order_id) AS n FROM fulfillment.shipments")).toBe(ORDERS);
      expect(await count("SELECT count(*) AS n FROM carrier_simulator.shipments")).toBe(ORDERS);
      expect(await count("SELECT count(DISTINCT reference) AS n FROM carrier_simulator.shipments")).toBe(
        ORDERS,
      );

      // One shipment.created and one shipment.delivered per order on the stream (by event id: a
      // relay killed after appending appends the same event again, which consumers act on once).
      await eventually(
        async () =>
          new Set(published!.events.filter((e) => e.type === "shipment.delivered").map((e) => e.data.orderId))
            .size === ORDERS,
        30_000,
        "every delivery read back",
      );
      for (const type of ["shipment.created", "shipment.delivered"]) {
        const idsByOrder = new Map<string, Set<string>>();
        for (const event of published!.events.filter((e) => e.type === type)) {
          const ids = idsByOrder.get(String(event.data.orderId)) ?? new Set<string>();
          ids.add(event.id);
          idsByOrder.set(String(event.data.orderId), ids);
        }
        expect(
          [...orders.keys()].filter((id) => idsByOrder.get(id)?.size !== 1),
          type,
        ).toEqual([]);
        expect(idsByOrder.size, type).toBe(ORDERS);
      }
      expect(published!.events.filter((e) => e.type === "shipment.cancelled")).toHaveLength(0);

      // Each order went shipped → completed once, with the carrier's tracking number.
      const sample = [...orders.keys()].slice(0, 20);
      for (const orderId of sample) {
        const view = await call<OrderView>("GET", `/orders/${orderId}`, ADMIN);
        expect(view.body.history.map((entry) => entry.status)).toEqual([
          "pending",
          "created",
          "paid",
          "shipped",
          "completed",
        ]);
      }
      const appendedAgain = published!.events.length - new Set(published!.events.map((e) => e.id)).size;
      console.info(
        `fulfilment killed ${kills.length} times: ${kills.join("; ")}; events appended again by a relay: ${appendedAgain}`,
      );
    },
    360_000,
  );
});
