import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";
import { type Answer, type OrderPath, startOrderPath } from "../../support/order-path.js";

/**
 * The four ways the accept path broke with two intakes, one key and a fault at the stream or at
 * the inventory client, each run deterministically: the interleaving is held by the test.
 * Each must hold: every 202 is stored exactly once and not cancelled, no stored order was answered
 * `not_accepted`, and nothing is oversold.
 */
describe("accept path races", () => {
  let path: OrderPath | undefined;
  afterEach(async () => {
    await path?.close();
    path = undefined;
  });

  const order = (userId: string, sku: string, key?: string) => ({
    userId,
    sku,
    quantity: 1,
    idempotencyKey: key,
  });

  it.each(["fail", "lands-then-fails"] as const)(
    "a 202 a second intake gave for a replay stands when the first intake's hung append then %s",
    async (fate) => {
      path = await startOrderPath();
      await path.openSale("D1", 5, 1);
      const a = path.intake();
      const b = path.intake();
      const held = path.stream.hold();
      const first = a.place(order("u1", "D1", "k1"));
      const hung = await held; // intake A reserved and is appending
      // The client gave up on A and retried with its key; the retry reached intake B.
      const retry = await b.place(order("u1", "D1", "k1"));
      expect(retry).toMatchObject({ status: 202 });
      hung.settle(fate);
      const firstAnswer = await first;
      await path.drain();
      const orderId = (retry as { orderId: string }).orderId;
      expect(await path.stored()).toEqual(new Map([[orderId, "created"]]));
      // A's buyer is long gone, but what A would say must agree with what is stored.
      expect(firstAnswer).toEqual({ status: 202, orderId });
      expect(await path.inventory.levels({ sku: "D1" })).toMatchObject({
        sold: 1,
        reserved: 0,
        available: 4,
      });
    },
  );

  it("an append slower than the reservation's lifetime never turns into a 202 for an order the sweeper released", async () => {
    path = await startOrderPath({ reservationTtlSeconds: 5 });
    await path.openSale("D6", 5, 1);
    const a = path.intake();
    const held = path.stream.hold();
    const first = a.place(order("u1", "D6", "k1"));
    const hung = await held;
    // The append hangs past the reservation's expiry, with nothing in the queue: the sweeper
    // (once a second) takes the reservation for one whose intake died, and releases it.
    await new Promise((resolve) => setTimeout(resolve, 7_500));
    hung.settle("ok");
    const answer = await first;
    await path.drain();
    const stored = await path.stored();
    // Whatever the buyer was told, the store agrees: a 202 is stored, anything else is not.
    if (answer.status === 202) {
      expect(stored).toEqual(new Map([[(answer as { orderId: string }).orderId, "created"]]));
    } else {
      expect(answer).toMatchObject({ status: 503, code: "not_accepted" });
      expect(stored.size).toBe(0);
    }
    const levels = await path.inventory.levels({ sku: "D6" });
    expect(levels).toMatchObject({ reserved: 0, sold: stored.size, available: 5 - stored.size });
  });

  it("a replay whose original was rejected first is refused, and the key buys afresh", async () => {
    path = await startOrderPath();
    await path.openSale("D1B", 5, 1);
    const a = path.intake();
    const b = path.intake();
    const held = path.stream.hold();
    const first = a.place(order("u1", "D1B", "k1"));
    const hung = await held;
    hung.settle("lands-then-fails");
    expect(await first).toMatchObject({ status: 503, code: "not_accepted" });
    // Its message is in the queue; the retry gets a new order, and the first is never stored.
    const retry = await b.place(order("u1", "D1B", "k1"));
    expect(retry).toMatchObject({ status: 202 });
    await path.drain();
    expect(await path.stored()).toEqual(new Map([[(retry as { orderId: string }).orderId, "created"]]));
  });

  it("a buyer told 503 never has a stored order, even when the append landed and the release call failed", async () => {
    path = await startOrderPath();
    await path.openSale("D4", 5, 1);
    const a = path.intake();
    const accepted: string[] = [];
    // The append lands but reports failure, and the intake's call to settle (or release) the
    // reservation then fails, or is applied with its answer lost.
    for (const [user, fault] of [
      ["u1", "fail"],
      ["u2", "applied-then-fail"],
    ] as const) {
      path.stream.plan("lands-then-fails");
      a.faults.set("settle", [fault]);
      a.faults.set("release", [fault]); // the same call before it was called settle
      const answer = await a.place(order(user, "D4", `k-${user}`));
      expect(answer).not.toMatchObject({ code: "not_accepted" }); // it cannot know that
      expect(answer).toMatchObject({ status: 503, code: "outcome_unknown" });
      const orderId = (answer as { details?: { orderId?: string } }).details?.orderId;
      expect(orderId).toMatch(/^\d+$/);
      // The retry with the same key resolves it: to this order if it stands, else to a new one
      // (the first was released and will never be stored). Never to two.
      const retry = await a.place(order(user, "D4", `k-${user}`));
      expect(retry).toMatchObject({ status: 202 });
      const retried = (retry as { orderId: string }).orderId;
      accepted.push(retried);
      await path.drain();
      const stored = await path.stored();
      expect(stored.get(retried)).toBe("created");
      if (retried !== orderId) expect(stored.has(orderId!)).toBe(false);
    }
    // Exactly the orders buyers were told 202 for are stored.
    expect([...(await path.stored()).keys()].sort()).toEqual(accepted.sort());
    expect((await path.inventory.levels({ sku: "D4" }))!.sold).toBe(2);
  });

  it("without a key, the outcome-unknown answer names the order, whose fate the order itself shows", async () => {
    path = await startOrderPath();
    await path.openSale("D4B", 5, 1);
    const a = path.intake();
    path.stream.plan("lands-then-fails");
    a.faults.set("settle", ["fail"]);
    a.faults.set("release", ["fail"]);
    const answer = await a.place(order("u1", "D4B"));
    expect(answer).toMatchObject({ status: 503, code: "outcome_unknown" });
    const orderId = (answer as { details?: Record<string, string> }).details?.orderId ?? "";
    await path.drain();
    // The message landed and nobody rejected it: it is stored, and its buyer can find it.
    expect(await path.stored()).toEqual(new Map([[orderId, "created"]]));
  });
});

const redisUp = await serverAvailable("redis");
describe.skipIf(!redisUp)("accept path races on a Redis book", () => {
  const prefix = `test-races-${randomUUID().slice(0, 8)}:`;
  const redis = redisUp ? new Redis(servers.redis.url) : undefined;
  let path: OrderPath | undefined;
  afterEach(async () => {
    await path?.close();
    path = undefined;
  });
  afterAll(async () => {
    if (!redis) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("a key reused for another SKU, sent twice at once through two intakes, is refused both times", async () => {
    path = await startOrderPath({ stockUrl: servers.redis.url, stockPrefix: `${prefix}d2:` });
    await path.openSale("D2-A", 100, 5);
    await path.openSale("D2-B", 100, 5);
    const a = path.intake();
    const b = path.intake();
    const twice: Answer[] = [];
    for (let i = 0; i < 10; i++) {
      const user = `u${i}`;
      expect(await a.place({ userId: user, sku: "D2-A", quantity: 1, idempotencyKey: "K" })).toMatchObject({
        status: 202,
      });
      twice.push(
        ...(await Promise.all([
          a.place({ userId: user, sku: "D2-B", quantity: 1, idempotencyKey: "K" }),
          b.place({ userId: user, sku: "D2-B", quantity: 1, idempotencyKey: "K" }),
        ])),
      );
    }
    expect(twice.filter((answer) => answer.status === 202)).toEqual([]);
    for (const answer of twice) expect(answer).toMatchObject({ status: 422, code: "idempotency_key_reused" });
    await path.drain();
    expect((await path.stored()).size).toBe(10);
    expect(await path.inventory.levels({ sku: "D2-B" })).toMatchObject({
      reserved: 0,
      sold: 0,
      available: 100,
    });
  });

  it("a replay sent twice at once to a book that lost its key gets the stored order both times, never not_accepted", async () => {
    const stockPrefix = `${prefix}d5:`;
    path = await startOrderPath({ stockUrl: servers.redis.url, stockPrefix });
    await path.openSale("D5", 10, 2);
    const a = path.intake();
    const b = path.intake();
    const keys = (await redis!.keys(`${stockPrefix}stock:{D5}:*`)).sort();
    const snapshot = await Promise.all(keys.map(async (key) => [key, await redis!.dumpBuffer(key)] as const));
    const first = await a.place({ userId: "u1", sku: "D5", quantity: 1, idempotencyKey: "K" });
    expect(first).toMatchObject({ status: 202 });
    const orderId = (first as { orderId: string }).orderId;
    await path.drain();
    // Redis comes back from before the order: the book no longer knows the key.
    await redis!.del(...(await redis!.keys(`${stockPrefix}stock:{D5}:*`)));
    for (const [key, dump] of snapshot) if (dump) await redis!.restore(key, 0, dump, "REPLACE");
    // The buyer's retry, twice at once: one intake reserves afresh under the key, which the
    // record refuses (the key holds the stored order), reloads the SKU and tries again; the
    // other waits on it. Both must answer with the stored order.
    const replays = await Promise.all([
      a.place({ userId: "u1", sku: "D5", quantity: 1, idempotencyKey: "K" }),
      b.place({ userId: "u1", sku: "D5", quantity: 1, idempotencyKey: "K" }),
    ]);
    expect(replays).toEqual([
      { status: 202, orderId },
      { status: 202, orderId },
    ]);
    await path.drain();
    expect(await path.stored()).toEqual(new Map([[orderId, "created"]]));
    expect(await path.inventory.levels({ sku: "D5" })).toMatchObject({ sold: 1, reserved: 0, available: 9 });
  });

  it("a Redis that comes back from an older snapshot never oversells: the SKU is reloaded from the database", async () => {
    const stockPrefix = `${prefix}d3:`;
    path = await startOrderPath({ stockUrl: servers.redis.url, stockPrefix });
    await path.openSale("D3", 10, 1);
    const a = path.intake();
    const buy = (user: string, key = `k-${user}`) =>
      a.place({ userId: user, sku: "D3", quantity: 1, idempotencyKey: key });
    for (let i = 0; i < 5; i++) expect(await buy(`early-${i}`)).toMatchObject({ status: 202 });
    await path.drain();
    // A snapshot of the SKU's keys, as a replica that lagged (or an old RDB file) holds them.
    const keys = (await redis!.keys(`${stockPrefix}stock:{D3}:*`)).sort();
    const snapshot = await Promise.all(keys.map(async (key) => [key, await redis!.dumpBuffer(key)] as const));
    for (let i = 0; i < 5; i++) expect(await buy(`late-${i}`)).toMatchObject({ status: 202 });
    await path.drain();
    expect(await path.inventory.levels({ sku: "D3" })).toMatchObject({ sold: 10, available: 0 });
    // Redis comes back behind the database: the last five sales are gone from it.
    await redis!.del(...(await redis!.keys(`${stockPrefix}stock:{D3}:*`)));
    for (const [key, dump] of snapshot) if (dump) await redis!.restore(key, 0, dump, "REPLACE");
    expect(await path.inventory.levels({ sku: "D3" })).toMatchObject({ sold: 5, available: 5 });
    // The intake's sold-out flag, learnt before the restore, is right (the record is sold out) and
    // refuses non-holders without asking for up to a second; then a request goes through to the book.
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const after: Answer[] = [];
    for (let i = 0; i < 5; i++) after.push(await buy(`new-${i}`));
    // A late buyer asking again under another key: its earlier unit still counts.
    after.push(await buy("late-0", "another-key"));
    expect(after.filter((answer) => answer.status === 202)).toEqual([]);
    expect(after.slice(0, 5).map((answer) => (answer as { code: string }).code)).toEqual(
      Array(5).fill("sold_out"),
    );
    // Refused: by the sold-out flag (its holders filter, from the reloaded book, has the buyer's
    // first key, not this one) or by the book's limit; the per-user holdings a load restores are
    // checked in the reservation book conformance suite.
    expect(after[5]).toMatchObject({ status: 409 });
    expect(["sold_out", "limit_exceeded"]).toContain((after[5] as { code: string }).code);
    await path.drain();
    const stored = await path.stored();
    expect(stored.size).toBe(10);
    expect(await path.inventory.levels({ sku: "D3" })).toMatchObject({ sold: 10, reserved: 0, available: 0 });
  });
});
