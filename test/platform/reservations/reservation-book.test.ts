import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BloomBits } from "../../../src/platform/cache/bloom/bloom-bits.js";
import { openReservationBook } from "../../../src/platform/reservations/open-reservation-book.js";
import {
  firstVersionOf,
  holdersShape,
  OrderIdInUseError,
  type Reservation,
  type ReservationBook,
  type SettledStock,
  settledOrderKey,
  userKey,
} from "../../../src/platform/reservations/reservation-book.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { type RedisCluster, redisBinariesAvailable, startRedisCluster } from "../../support/redis-cluster.js";

const TTL = 60_000;
const HOUR = 3_600_000;

const request = (orderId: string, userId: string, quantity = 1, key = orderId, sku = "S") => ({
  orderId,
  sku,
  userId,
  quantity,
  idempotencyKey: key,
});
const ref = (orderId: string, sku = "S") => ({ orderId, sku });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sale open now (the book judges windows by its own clock: the real one). */
const openTerms = (sku: string, stock: number, perUserLimit: number) => ({
  sku,
  stock,
  perUserLimit,
  startsAt: new Date(Date.now() - HOUR).toISOString(),
  endsAt: new Date(Date.now() + HOUR).toISOString(),
});

/** What the record hands a book for confirmed reservations (see ReservationStore.settledStock). */
function settledStock(
  stock: number,
  confirmed: { orderId: string; userId: string; quantity: number; key: string }[],
): SettledStock {
  const holders = BloomBits.ofShape(holdersShape(stock));
  const heldByUser = new Map<string, number>();
  for (const c of confirmed) {
    holders.add([userKey(c.userId, c.key), settledOrderKey(c.orderId)]);
    heldByUser.set(c.userId, (heldByUser.get(c.userId) ?? 0) + c.quantity);
  }
  return {
    sold: confirmed.reduce((sum, c) => sum + c.quantity, 0),
    heldByUser,
    holders: holders.snapshot(),
  };
}

/** One suite, every adapter: the Redis scripts must decide exactly as the in-process ledger does. */
function reservationBookConformance(name: string, open: () => Promise<ReservationBook>) {
  describe(`reservation book: ${name}`, () => {
    const books: ReservationBook[] = [];
    afterAll(async () => {
      await Promise.all(books.map((book) => book.close()));
    });

    async function freshBook(): Promise<ReservationBook> {
      const book = await open();
      books.push(book);
      return book;
    }

    async function bookWithSale(stock = 10, perUserLimit = 2, sku = "S"): Promise<ReservationBook> {
      const book = await freshBook();
      const terms = openTerms(sku, stock, perUserLimit);
      expect(await book.defineSale(terms)).toBe(true);
      expect(await book.defineSale({ ...terms, stock: stock + 1 })).toBe(false); // kept, not overwritten
      expect(await book.levels(sku)).toEqual({
        sku,
        stock,
        available: stock,
        reserved: 0,
        sold: 0,
        epoch: 1,
      });
      return book;
    }

    it("never sells more than the stock, even with every request in flight at once", async () => {
      const book = await bookWithSale(7, 3);
      const decisions = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          book.reserve(request(`${i + 1}`, `u${i % 13}`, 1 + (i % 3)), TTL),
        ),
      );
      const reserved = decisions.flatMap((d) => (d.kind === "reserved" ? [d] : []));
      expect(reserved.reduce((sum, d) => sum + d.reservation.quantity, 0)).toBe(7);
      expect(await book.levels("S")).toMatchObject({ stock: 7, available: 0, reserved: 7, sold: 0 });
      const versions = reserved.map((d) => d.after.version);
      expect(new Set(versions).size).toBe(versions.length); // each change has its own version
      expect(Math.min(...versions)).toBeGreaterThan(firstVersionOf(1));
      // Each reservation claims its own range of units in the epoch: the "taken" counts, sorted,
      // step by exactly each reservation's quantity.
      const byTaken = [...reserved].sort((a, b) => a.fence.taken - b.fence.taken);
      let taken = 0;
      for (const d of byTaken) {
        taken += d.reservation.quantity;
        expect(d.fence).toEqual({ epoch: 1, taken });
      }
    });

    it("checks the idempotency key before stock and limits: a replay never takes stock twice", async () => {
      const book = await bookWithSale(1, 1);
      const first = await book.reserve(request("1", "u", 1, "k"), TTL);
      expect(first).toMatchObject({ kind: "reserved", after: { available: 0 } });
      const replay = await book.reserve(request("2", "u", 1, "k"), TTL);
      expect(replay).toMatchObject({
        kind: "duplicate",
        reservation: { orderId: "1", userId: "u", quantity: 1, idempotencyKey: "k", status: "reserved" },
      });
      expect((await book.levels("S"))?.available).toBe(0);
    });

    it("refuses outside the window (by its own clock), over the user's limit, past the stock, and without a sale", async () => {
      const book = await bookWithSale(3, 2);
      await book.defineSale({
        ...openTerms("LATER", 5, 1),
        startsAt: new Date(Date.now() + HOUR).toISOString(),
      });
      await book.defineSale({ ...openTerms("OVER", 5, 1), endsAt: new Date(Date.now() - 1).toISOString() });
      expect(await book.reserve(request("1", "u", 1, "1", "LATER"), TTL)).toMatchObject({
        reason: "sale_not_open",
      });
      expect(await book.reserve(request("2", "u", 1, "2", "OVER"), TTL)).toMatchObject({
        reason: "sale_not_open",
      });
      expect(await book.reserve(request("3", "u", 3), TTL)).toMatchObject({ reason: "limit_exceeded" });
      expect((await book.reserve(request("4", "u", 2), TTL)).kind).toBe("reserved");
      expect(await book.reserve(request("5", "u", 1), TTL)).toMatchObject({ reason: "limit_exceeded" });
      expect(await book.reserve(request("6", "v", 2), TTL)).toMatchObject({
        reason: "sold_out",
        available: 1,
      });
      expect((await book.reserve(request("7", "x", 1, "g"), TTL)).kind).toBe("reserved");
      expect(await book.reserve(request("8", "y", 1), TTL)).toMatchObject({
        reason: "sold_out",
        available: 0,
      });
      expect(await book.reserve(request("9", "z", 1, "9", "OTHER"), TTL)).toMatchObject({
        reason: "no_sale",
      });
    });

    it("refuses an order id that already names a reservation instead of overwriting it", async () => {
      const book = await bookWithSale(5, 5);
      expect((await book.reserve(request("1", "u", 1, "a"), TTL)).kind).toBe("reserved");
      await expect(book.reserve(request("1", "v", 2, "b"), TTL)).rejects.toBeInstanceOf(OrderIdInUseError);
      expect(await book.get(ref("1"))).toMatchObject({ userId: "u", quantity: 1, idempotencyKey: "a" });
      expect(await book.levels("S")).toMatchObject({ reserved: 1, available: 4 });
    });

    it("accepts: an accepted reservation never expires, cannot be released, and can be confirmed", async () => {
      const book = await bookWithSale(2, 2);
      await book.reserve(request("1", "u"), 1);
      await book.reserve(request("2", "u"), 1);
      await sleep(10);
      expect(await book.transition("accept", ref("1"))).toMatchObject({
        outcome: "ok",
        reservation: { status: "accepted" },
      });
      expect(await book.transition("accept", ref("1"))).toMatchObject({ outcome: "ok" }); // idempotent
      expect(await book.expired(10)).toEqual([ref("2")]); // only the undecided one
      expect(await book.transition("begin-release", ref("1"), TTL)).toMatchObject({
        outcome: "refused",
        reservation: { status: "accepted" },
      });
      expect(await book.levels("S")).toMatchObject({ reserved: 2, sold: 0 });
      expect(await book.transition("confirm", ref("1"))).toEqual({ outcome: "ok" });
      // Settled: the book keeps its units, not the reservation.
      expect(await book.transition("accept", ref("1"))).toEqual({ outcome: "settled" });
      expect(await book.levels("S")).toMatchObject({ reserved: 1, sold: 1, available: 0 });
      expect(await book.transition("accept", ref("404"))).toEqual({ outcome: "unknown" });
    });

    it("begins, aborts and finishes releases; a release holds its units until it finishes", async () => {
      const book = await bookWithSale(2, 1);
      await book.reserve(request("1", "u1"), 1);
      await book.reserve(request("2", "u2"), TTL);
      await sleep(10);
      expect(await book.expired(10)).toEqual([ref("1")]);
      expect(await book.transition("begin-release", ref("1"), TTL)).toMatchObject({
        outcome: "ok",
        reservation: { status: "releasing" },
      });
      expect(await book.expired(10)).toEqual([]); // being released: not offered again
      // Cannot become a sale now: the record decides, and the book mirrors it afterwards.
      expect(await book.transition("confirm", ref("1"))).toMatchObject({ outcome: "refused" });
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 2 });
      await book.transition("abort-release", ref("1"));
      expect(await book.get(ref("1"))).toMatchObject({ status: "reserved" });
      expect(await book.expired(10)).toEqual([ref("1")]);
      await book.transition("begin-release", ref("1"), TTL);
      const finished = await book.transition("forget", ref("1"));
      expect(finished).toMatchObject({ outcome: "ok", change: { sku: "S", available: 1 } });
      expect(await book.get(ref("1"))).toBeUndefined();
      // u1's allowance and key are free again (the key, once the record confirms it holds nothing).
      expect(await book.reserve(request("3", "u1", 1, "1"), TTL)).toEqual({ kind: "maybe_settled" });
      expect((await book.reserve({ ...request("3", "u1", 1, "1"), settledChecked: true }, TTL)).kind).toBe(
        "reserved",
      );
      // The record released a reservation the book still thought reserved: it follows.
      expect(await book.transition("forget", ref("2"))).toMatchObject({
        outcome: "ok",
        change: { available: 1 },
      });
      expect(await book.levels("S")).toMatchObject({ available: 1, reserved: 1, sold: 0 });
    });

    it("confirms idempotently; a confirmed sale is not released or expired", async () => {
      const book = await bookWithSale(2, 1);
      const reserved = await book.reserve(request("1", "u1"), 1);
      expect(await book.transition("confirm", ref("1"))).toEqual({ outcome: "ok" });
      expect(await book.transition("confirm", ref("1"))).toEqual({ outcome: "settled" });
      await sleep(10);
      expect(await book.expired(10)).toEqual([]);
      expect(await book.transition("begin-release", ref("1"), TTL)).toEqual({ outcome: "settled" });
      expect(await book.get(ref("1"))).toBeUndefined();
      // Confirming changes nothing available: no new version.
      const next = await book.reserve(request("2", "u2"), TTL);
      expect(
        next.kind === "reserved" &&
          reserved.kind === "reserved" &&
          next.after.version - reserved.after.version,
      ).toBe(1);
      expect(await book.levels("S")).toMatchObject({ available: 0, reserved: 1, sold: 1 });
    });

    it("lets go of a settled reservation but not of its key, its units or its buyer's allowance", async () => {
      const book = await bookWithSale(3, 2);
      await book.reserve(request("1", "u", 1, "k"), TTL);
      expect(await book.transition("confirm", ref("1"))).toEqual({ outcome: "ok" });
      expect(await book.get(ref("1"))).toBeUndefined();
      // A replay of its key: only the record can tell, so the book says so instead of selling again.
      expect(await book.reserve(request("2", "u", 1, "k"), TTL)).toEqual({ kind: "maybe_settled" });
      expect(await book.levels("S")).toMatchObject({ available: 2, reserved: 0, sold: 1 });
      // Looked up and found free (say the record released it): the key may reserve.
      expect((await book.reserve({ ...request("3", "u", 1, "k"), settledChecked: true }, TTL)).kind).toBe(
        "reserved",
      );
      // The settled unit still counts against the buyer's limit.
      expect(await book.reserve(request("4", "u", 1, "other"), TTL)).toMatchObject({
        reason: "limit_exceeded",
      });
      // Its row released (a cancelled paid order): the book is told once, with what it held.
      expect(await book.transition("forget", ref("1"))).toEqual({ outcome: "settled" });
      expect(await book.unsell(ref("1"), { userId: "u", quantity: 1 })).toMatchObject({
        sku: "S",
        available: 2,
      });
      expect(await book.levels("S")).toMatchObject({ available: 2, reserved: 1, sold: 0 });
      expect((await book.reserve(request("5", "u", 1, "other"), TTL)).kind).toBe("reserved");
      // A reservation it never had is still unknown.
      expect(await book.transition("confirm", ref("404"))).toEqual({ outcome: "unknown" });
    });

    it("keeps its holders filter as it reserves: live and settled keys in, others out", async () => {
      const book = await bookWithSale(100, 1);
      for (let i = 0; i < 40; i++) await book.reserve(request(`${i + 1}`, `u${i}`, 1, `k${i}`), TTL);
      for (let i = 0; i < 20; i++) await book.transition("confirm", ref(`${i + 1}`));
      const snapshot = await book.holders("S");
      expect(snapshot).toMatchObject(holdersShape(100));
      const filter = BloomBits.fromSnapshot(snapshot!);
      for (let i = 0; i < 40; i++) expect(filter.test(userKey(`u${i}`, `k${i}`))).toBe(true);
      let strangers = 0;
      for (let i = 0; i < 1000; i++) if (filter.test(userKey(`stranger${i}`, `k${i}`))) strangers++;
      expect(strangers).toBeLessThan(50); // a 1 % filter, far from full
      expect(await book.holders("NONE")).toBeUndefined();
    });

    it("finds releases abandoned past their deadline, by its own clock", async () => {
      const book = await bookWithSale(2, 2);
      await book.reserve(request("1", "u1"), TTL);
      await book.transition("begin-release", ref("1"), 1);
      await sleep(10);
      expect(await book.staleReleases(10)).toEqual([ref("1")]);
      await book.transition("abort-release", ref("1"));
      expect(await book.staleReleases(10)).toEqual([]);
      await book.transition("begin-release", ref("1"), TTL);
      expect(await book.staleReleases(10)).toEqual([]);
    });

    it("forgets a reservation whose write failed, as if it never happened", async () => {
      const book = await bookWithSale(1, 1);
      await book.reserve(request("1", "u", 1, "k"), TTL);
      expect(await book.transition("forget", ref("1"))).toMatchObject({
        outcome: "ok",
        change: { available: 1 },
      });
      expect(await book.transition("forget", ref("1"))).toEqual({ outcome: "unknown" });
      // The key stays in the holders filter: the record is asked before it reserves again.
      expect(await book.reserve(request("2", "u", 1, "k"), TTL)).toEqual({ kind: "maybe_settled" });
      expect((await book.reserve({ ...request("2", "u", 1, "k"), settledChecked: true }, TTL)).kind).toBe(
        "reserved",
      );
    });

    it("loads a SKU from the record under a newer epoch, replacing what it held; never an older one", async () => {
      const book = await bookWithSale(5, 2, "R");
      // What the book held before (it is about to be replaced wholesale).
      await book.reserve(request("100", "gone", 1, "gone", "R"), TTL);
      const at = Date.now();
      // Order 1 (user a, key ka, 2 units) was confirmed: the record hands it over as totals.
      const settled = settledStock(5, [{ orderId: "1", userId: "a", quantity: 2, key: "ka" }]);
      const live: Reservation[] = [
        {
          orderId: "2",
          sku: "R",
          userId: "b",
          quantity: 1,
          idempotencyKey: "kb",
          status: "reserved",
          reservedAtMs: at,
          expiresAtMs: at - 1,
        },
        {
          orderId: "3",
          sku: "R",
          userId: "c",
          quantity: 1,
          idempotencyKey: "kc",
          status: "accepted",
          reservedAtMs: at,
          expiresAtMs: at - 1,
        },
      ];
      const terms = openTerms("R", 5, 2);
      expect(await book.load({ terms, epoch: 3, reservations: live, settled })).toBe(true);
      expect(await book.levels("R")).toEqual({
        sku: "R",
        stock: 5,
        available: 1,
        reserved: 2,
        sold: 2,
        epoch: 3,
      });
      expect(await book.get(ref("100", "R"))).toBeUndefined();
      expect(await book.reserve(request("4", "a", 1, "x", "R"), TTL)).toMatchObject({
        reason: "limit_exceeded",
      });
      expect(await book.reserve(request("40", "a", 2, "ka", "R"), TTL)).toEqual({ kind: "maybe_settled" });
      expect(await book.transition("confirm", ref("1", "R"))).toEqual({ outcome: "settled" });
      expect(await book.reserve(request("5", "b", 1, "kb", "R"), TTL)).toMatchObject({
        kind: "duplicate",
        reservation: { orderId: "2" },
      });
      expect(await book.expired(10)).toEqual([ref("2", "R")]); // the accepted one never expires
      const next = await book.reserve(request("6", "gone", 1, "gone", "R"), TTL);
      expect(next).toMatchObject({
        kind: "reserved",
        after: { version: firstVersionOf(3) + 1 },
        fence: { epoch: 3, taken: 1 },
      });
      // Another process loading the same epoch, or an older one, changes nothing.
      const none = settledStock(50, []);
      expect(
        await book.load({ terms: { ...terms, stock: 50 }, epoch: 3, reservations: [], settled: none }),
      ).toBe(false);
      expect(
        await book.load({ terms: { ...terms, stock: 50 }, epoch: 2, reservations: [], settled: none }),
      ).toBe(false);
      expect(await book.levels("R")).toMatchObject({ stock: 5, available: 0, epoch: 3 });
      expect((await book.allLevels()).map((l) => l.sku)).toContain("R");
      // A SKU it never had is loaded too.
      expect(
        await book.load({
          terms: openTerms("NEW", 2, 1),
          epoch: 7,
          reservations: [],
          settled: settledStock(2, []),
        }),
      ).toBe(true);
      expect(await book.levels("NEW")).toMatchObject({ available: 2, epoch: 7 });
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
