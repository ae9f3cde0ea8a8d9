import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../../support/test-server.js";
import {
  eventsConsumed,
  newOrder,
  type OrderFacts,
  orderEvent,
  publishOrderEvents,
} from "../notifications/lifecycle-events.js";

interface Points {
  balance: number;
  entries: { orderId: string; kind: "award" | "reversal"; points: number; amountCents: number }[];
  nextCursor: string | null;
}

/** Two points per whole euro: the setting reaches the ledger. */
const RATE = 2;

describe("loyalty points", () => {
  let server: TestServer;
  let published = 0;

  beforeAll(async () => {
    server = await startTestServer({ loyaltyPointsPerCurrencyUnit: String(RATE) });
  }, 60_000);
  afterAll(async () => server?.close());

  /** Publishes, then waits until the loyalty consumer has finished with everything published. */
  const publish = async (...events: Parameters<typeof publishOrderEvents>[1]) => {
    await publishOrderEvents(server.running.platform.stream, events);
    published += events.length;
    await eventually(
      async () => (await eventsConsumed(server, "loyalty.on-orders")) >= published,
      20_000,
      `loyalty to consume ${published} events`,
    );
  };
  const pointsOf = async (userId: string) => {
    const answer = await server.request<Points>("GET", "/me/points", { user: userId });
    expect(answer.status).toBe(200);
    return answer.body;
  };
  const completed = (order: OrderFacts) => orderEvent("order.completed", order, {});
  const refunded = (order: OrderFacts) =>
    orderEvent("order.refunded", order, { paymentId: `pay_${order.orderId}`, from: "completed" });

  it("awards points per whole unit of currency when an order completes, and shows them at GET /me/points", async () => {
    const order = newOrder("points-alice", 3998); // 39.98 EUR: 39 whole euros
    await publish(orderEvent("order.paid", order, { paymentId: "p" }), completed(order));
    const points = await pointsOf("points-alice");
    expect(points.balance).toBe(39 * RATE);
    expect(points.entries).toMatchObject([
      { orderId: order.orderId, kind: "award", points: 39 * RATE, amountCents: 3998 },
    ]);
    // Someone else sees only their own (none).
    expect(await pointsOf("points-nobody")).toEqual({ balance: 0, entries: [], nextCursor: null });
    expect((await server.request("GET", "/me/points")).status).toBe(401);
  });

  it("awards once per order, however often and under however many event ids the completion arrives", async () => {
    const order = newOrder("points-bob", 1000);
    const event = completed(order);
    // The same event three times (redelivery), and the same fact under two fresh ids (a
    // re-published event): processed-event keys absorb the first kind, the unique key the second.
    await publish(event, event, event, completed(order), completed(order));
    const points = await pointsOf("points-bob");
    expect(points.entries.filter((entry) => entry.kind === "award")).toHaveLength(1);
    expect(points.balance).toBe(10 * RATE);
  });

  it("takes the award back on refund, once, however often the refund arrives", async () => {
    const order = newOrder("points-carol", 2550);
    await publish(completed(order));
    expect((await pointsOf("points-carol")).balance).toBe(25 * RATE);
    await publish(refunded(order), refunded(order), refunded(order));
    const points = await pointsOf("points-carol");
    expect(points.balance).toBe(0);
    expect(points.entries.map((entry) => [entry.kind, entry.points])).toEqual([
      ["reversal", -25 * RATE],
      ["award", 25 * RATE],
    ]);
  });

  it("awards and takes back the points of a completed order whose refund was applied before its completion", async () => {
    const order = newOrder("points-dave", 5000);
    // The completion's event failed once (or was in the hands of a process that died) and came
    // back after the refund's went through: the refund, of a completed order, awards first.
    await publish(refunded(order), refunded(order), completed(order), completed(order));
    const points = await pointsOf("points-dave");
    expect(points.balance).toBe(0);
    expect(points.entries.map((entry) => [entry.kind, entry.points])).toEqual([
      ["reversal", -50 * RATE],
      ["award", 50 * RATE],
    ]);
  });

  it("awards nothing for an order refunded before it completed", async () => {
    const order = newOrder("points-frank", 5000);
    // Refunded while shipped, so it never completes; a completion arriving anyway earns nothing.
    await publish(
      orderEvent("order.refunded", order, { paymentId: `pay_${order.orderId}`, from: "shipped" }),
      completed(order),
    );
    const points = await pointsOf("points-frank");
    expect(points.balance).toBe(0);
    expect(points.entries.map((entry) => [entry.kind, entry.points])).toEqual([["reversal", 0]]);
  });

  it("keeps a user's balance across orders and pages through the entries", async () => {
    const orders = [newOrder("points-erin", 100), newOrder("points-erin", 250), newOrder("points-erin", 99)];
    await publish(...orders.map(completed), refunded(orders[1]!));
    const all = await pointsOf("points-erin");
    // 1 + 2 + 0 whole euros, then the 2 taken back.
    expect(all.balance).toBe((1 + 2 + 0 - 2) * RATE);
    expect(all.entries).toHaveLength(4);
    const first = await server.request<Points>("GET", "/me/points?limit=3", { user: "points-erin" });
    expect(first.body.entries).toHaveLength(3);
    const rest = await server.request<Points>("GET", `/me/points?limit=3&cursor=${first.body.nextCursor}`, {
      user: "points-erin",
    });
    expect([...first.body.entries, ...rest.body.entries]).toEqual(all.entries);
    expect(rest.body.nextCursor).toBeNull();
  });

  it("counts points awarded and reversed on /metrics", async () => {
    const metrics = (await server.request<string>("GET", "/metrics")).body;
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(metrics)?.[1]);
    // alice 39 + bob 10 + carol 25 + dave 50 + erin 1 + 2 + 0, at the rate; carol's 25, dave's 50
    // and erin's 2 back.
    expect(value("floodgate_loyalty_points_awarded_total")).toBe((39 + 10 + 25 + 50 + 1 + 2) * RATE);
    expect(value("floodgate_loyalty_points_reversed_total")).toBe((25 + 50 + 2) * RATE);
  });
});
