import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openReservationBook } from "../../../src/platform/reservations/open-reservation-book.js";
import type { ReservationBook } from "../../../src/platform/reservations/reservation-book.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { type RedisCluster, redisBinariesAvailable, startRedisCluster } from "../../support/redis-cluster.js";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const TTL = 60_000;

const request = (orderId: string, userId: string, quantity = 1, key = orderId, sku = "S") => ({
  orderId,
  sku,
  userId,
  quantity,
  idempotencyKey: key,
});
const ref = (orderId: string, sku = "S") => ({ orderId, sku });

/** One suite, every adapter: the Redis scripts must decide exactly as the in-process ledger does. */
function reservationBookConformance(name: string, open: () => Promise<ReservationBook>) {
  describe(`reservation book: ${name}`, () => {
    const books: ReservationBook[] = [];
    afterAll(async () => {
      await Promise.all(books.map((book) => book.close()));
    });

    async function bookWithSale(stock = 10, perUserLimit = 2, sku = "S"): Promise<ReservationBook> {
      const book = await open();
      books.push(book);
      const terms = {
        sku,
        stock,
        perUserLimit,
        startsAt: "2026-06-01T00:00:00Z",
        endsAt: "2026-06-02T00:00:00Z",
      };
      expect(await book.defineSale(terms)).toBe(true);
      expect(await book.defineSale({ ...terms, stock: stock + 1 })).toBe(false); // kept, not overwritten
      expect(await book.levels(sku)).toEqual({ sku, stock, available: stock, reserved: 0, sold: 0 });
      return book;
    }

    it("never sells more than the stock, even with every request in flight at once", async () => {
      const book = await bookWithSale(7, 3);
      const decisions = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          book.reserve(request(`${i + 1}`, `u${i % 13}`, 1 + (i % 3)), NOW, TTL),
        ),
      );
      const sold = decisions.reduce(
        (sum, d) => sum + (d.kind === "reserved" ? d.reservation.quantity : 0),
        0,
      );
      expect(sold).toBe(7);
      expect(await book.levels("S")).toEqual({ sku: "S", stock: 7, available: 0, reserved: 7, sold: 0 });
      const versions = decisions.flatMap((d) => (d.kind === "reserved" ? [d.after.version] : []));
      expect(new Set(versions).size).toBe(versions.length); // each change has its own version
    });

    it("checks the idempotency key before stock and limits: a replay never takes stock twice", async () => {
      const book = await bookWithSale(1, 1);
      const first = await book.reserve(request("1", "u", 1, "k"), NOW, TTL);
      expect(first).toMatchObject({ kind: "reserved", after: { available: 0 } });
      const replay = await book.reserve(request("2", "u", 1, "k"), NOW, TTL);
      expect(replay).toMatchObject({
        kind: "duplicate",
        reservation: { orderId: "1", userId: "u", quantity: 1, idempotencyKey: "k", status: "reserved" },
      });
      expect((await book.levels("S"))?.available).toBe(0);
    });

    it("refuses outside the window, over the user's limit, past the stock, and without a sale", async () => {
      const book = await bookWithSale(3, 2);
      expect(await book.reserve(request("1", "u"), Date.parse("2026-05-31T23:59:59Z"), TTL)).toMatchObject({
        reason: "sale_not_open",
      });
      expect(await book.reserve(request("2", "u"), Date.parse("2026-06-02T00:00:00Z"), TTL)).toMatchObject({
        reason: "sale_not_open",
      });
      expect(await book.reserve(request("3", "u", 3), NOW, TTL)).toMatchObject({ reason: "limit_exceeded" });
      expect((await book.reserve(request("4", "u", 2), NOW, TTL)).kind).toBe("reserved");
      expect(await book.reserve(request("5", "u", 1), NOW, TTL)).toMatchObject({ reason: "limit_exceeded" });
      expect(await book.reserve(request("6", "v", 2), NOW, TTL)).toMatchObject({
        reason: "sold_out",
        available: 1,
      });
      expect((await book.reserve(request("7", "x", 1, "g"), NOW, TTL)).kind).toBe("reserved");
      expect(await book.reserve(request("8", "y", 1), NOW, TTL)).toMatchObject({
        reason: "sold_out",
        available: 0,
      });
      expect(await book.reserve(request("9", "z", 1, "9", "OTHER"), NOW, TTL)).toMatchObject({
        reason: "no_sale",
      });
    });

    it("aborting a release keeps the reservation live and confirmable", async () => {
      const book = await bookWithSale(1, 1);
      await book.reserve(request("1", "u1"), NOW, TTL);
      expect(await book.beginRelease(ref("1"), NOW + TTL)).toMatchObject({
        orderId: "1",
        status: "releasing",
      });
      expect(await book.expired(NOW + TTL, 10)).toEqual([]); // being released: not offered again
      await book.abortRelease(ref("1"));
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 1 });
      expect(await book.expired(NOW + TTL, 10)).toEqual([ref("1")]);
      expect((await book.confirm([ref("1")])).confirmed.map((r) => r.status)).toEqual(["confirmed"]);
    });

    it("confirms, releases and expires, returning stock and the user's allowance", async () => {
      const book = await bookWithSale(2, 1);
      await book.reserve(request("1", "u1"), NOW, TTL);
      await book.reserve(request("2", "u2"), NOW, TTL);
      const first = await book.confirm([ref("1"), ref("404")]);
      expect(first.confirmed).toMatchObject([
        { orderId: "1", userId: "u1", quantity: 1, status: "confirmed" },
      ]);
      expect(first.notConfirmed).toEqual([ref("404")]);
      expect((await book.confirm([ref("1")])).confirmed).toHaveLength(1); // idempotent
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 1, sold: 1 });
      expect(await book.expired(NOW + TTL - 1, 10)).toEqual([]);
      expect(await book.expired(NOW + TTL, 10)).toEqual([ref("2")]);
      expect(await book.beginRelease(ref("2"), NOW + TTL)).toMatchObject({ orderId: "2" });
      // Cannot become a sale now; the caller asks again once the release is written.
      expect(await book.confirm([ref("2")])).toEqual({
        confirmed: [],
        notConfirmed: [],
        beingReleased: [ref("2")],
      });
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 1 }); // held until durable
      const change = await book.finishRelease(ref("2"));
      expect(change).toMatchObject({ sku: "S", available: 1 });
      expect(await book.beginRelease(ref("2"), NOW + TTL)).toBeUndefined();
      expect(await book.beginRelease(ref("1"), NOW + TTL)).toBeUndefined(); // a confirmed sale is not released by expiry
      expect(await book.levels("S")).toMatchObject({ available: 1, reserved: 0, sold: 1 });
      // u2's allowance and key are free again.
      expect((await book.reserve(request("3", "u2", 1, "2"), NOW, TTL)).kind).toBe("reserved");
    });

    it("finds releases abandoned past their deadline", async () => {
      const book = await bookWithSale(2, 2);
      await book.reserve(request("1", "u1"), NOW, TTL);
      await book.beginRelease(ref("1"), NOW + 1000);
      expect(await book.staleReleases(NOW + 999, 10)).toEqual([]);
      expect(await book.staleReleases(NOW + 1000, 10)).toEqual([ref("1")]);
      await book.abortRelease(ref("1"));
      expect(await book.staleReleases(NOW + 5000, 10)).toEqual([]);
      await book.beginRelease(ref("1"), NOW + 1000);
      await book.finishRelease(ref("1"));
      expect(await book.staleReleases(NOW + 5000, 10)).toEqual([]);
    });

    it("adopts a live reservation it lost, only while stock allows", async () => {
      const book = await bookWithSale(2, 1);
      await book.reserve(request("1", "u1", 1, "k1"), NOW, TTL);
      const lost = {
        orderId: "9",
        sku: "S",
        userId: "u9",
        quantity: 1,
        idempotencyKey: "k9",
        status: "reserved" as const,
        reservedAtMs: NOW,
        expiresAtMs: NOW + TTL,
      };
      expect(await book.adopt({ ...lost, orderId: "8", userId: "u1", idempotencyKey: "k1" })).toBe(
        "conflict",
      );
      expect(await book.adopt({ ...lost, sku: "NONE" })).toBe("no_sale");
      expect(await book.adopt(lost)).toBe("adopted");
      expect(await book.adopt(lost)).toBe("present");
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 2 });
      expect(await book.adopt({ ...lost, orderId: "10", userId: "u10", idempotencyKey: "k10" })).toBe(
        "no_stock",
      );
      expect(await book.reserve(request("11", "u9", 1, "k9"), NOW, TTL)).toMatchObject({
        kind: "duplicate",
        reservation: { orderId: "9" },
      });
      expect((await book.confirm([ref("9")])).confirmed).toHaveLength(1);
      expect(await book.expired(NOW + TTL, 10)).toEqual([ref("1")]);
    });

    it("forgets a reservation whose write failed, as if it never happened", async () => {
      const book = await bookWithSale(1, 1);
      await book.reserve(request("1", "u", 1, "k"), NOW, TTL);
      expect(await book.forget(ref("1"))).toMatchObject({ available: 1 });
      expect(await book.forget(ref("1"))).toBeUndefined();
      expect((await book.reserve(request("2", "u", 1, "k"), NOW, TTL)).kind).toBe("reserved");
    });

    it("restores a sale from the durable record only when it holds none, never overwriting one", async () => {
      const book = await open();
      books.push(book);
      const terms = {
        sku: "R",
        stock: 5,
        perUserLimit: 2,
        startsAt: "2026-06-01T00:00:00Z",
        endsAt: "2026-06-02T00:00:00Z",
      };
      const rows = [
        {
          orderId: "1",
          sku: "R",
          userId: "a",
          quantity: 2,
          idempotencyKey: "ka",
          status: "confirmed" as const,
          reservedAtMs: NOW,
          expiresAtMs: NOW + TTL,
        },
        {
          orderId: "2",
          sku: "R",
          userId: "b",
          quantity: 1,
          idempotencyKey: "kb",
          status: "reserved" as const,
          reservedAtMs: NOW,
          expiresAtMs: NOW + TTL,
        },
      ];
      expect(await book.restore(terms, rows)).toBe(true);
      expect(await book.levels("R")).toEqual({ sku: "R", stock: 5, available: 2, reserved: 1, sold: 2 });
      expect(await book.reserve(request("3", "a", 1, "x", "R"), NOW, TTL)).toMatchObject({
        reason: "limit_exceeded",
      });
      expect(await book.reserve(request("4", "b", 1, "kb", "R"), NOW, TTL)).toMatchObject({
        kind: "duplicate",
        reservation: { orderId: "2" },
      });
      expect(await book.expired(NOW + TTL, 10)).toEqual([ref("2", "R")]);
      const versionBefore = await book.reserve(request("5", "c", 1, "c", "R"), NOW, TTL);
      expect(versionBefore.kind === "reserved" && versionBefore.after.version).toBeGreaterThan(NOW);
      expect(await book.restore({ ...terms, stock: 50 }, [])).toBe(false);
      expect(await book.levels("R")).toMatchObject({ stock: 5, available: 1 });
      expect((await book.allLevels()).map((l) => l.sku)).toContain("R");
    });
  });
}

reservationBookConformance("memory", () => openReservationBook(undefined, { prefix: "" }));

const redisUp = await serverAvailable("redis");
describe.skipIf(!redisUp)("redis", () => {
  // A fresh prefix per book: each test starts from an empty Redis namespace, as `open()` is new memory.
  reservationBookConformance("redis", () =>
    openReservationBook(servers.redis.url, { prefix: `test-book-${randomUUID()}:` }),
  );
});

const clusterPossible = redisBinariesAvailable();
describe.skipIf(!clusterPossible)("redis cluster", () => {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  reservationBookConformance("redis-cluster", () =>
    openReservationBook(cluster!.url, { prefix: `test-book-${randomUUID()}:` }),
  );
});
