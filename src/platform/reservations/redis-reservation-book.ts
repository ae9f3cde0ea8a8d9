import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import {
  OrderIdInUseError,
  type Reservation,
  type ReservationBook,
  type ReservationRef,
  type ReservationStatus,
  type ReserveDecision,
  type ReserveRequest,
  type SaleTerms,
  type SkuRecord,
  type StockLevels,
  type Transition,
  type TransitionResult,
} from "./reservation-book.js";

const script = (name: string) => new LuaScript(fileURLToPath(new URL(name, import.meta.url)));
const DEFINE = script("./stock-define-1.lua");
const RESERVE = script("./stock-reserve-5.lua");
const TRANSITION = script("./stock-transition-6.lua");
const LOAD = script("./stock-load-6.lua");
const DUE = script("./stock-due-1.lua");

/** A reservation as the scripts store it (short names: there may be millions). */
interface StoredRecord {
  readonly u: string;
  readonly q: number;
  readonly k: string;
  readonly s: ReservationStatus;
  readonly r: string;
  readonly e: string;
}

/** Indexes into `keys(sku)`. */
const SALE = 0;
const KEYS_BY_USER = 2;
const RESERVATIONS = 3;
const EXPIRY = 4;
const RELEASING = 5;

/**
 * The reservation book in Redis or Redis Cluster, shared by every inventory process. Each
 * reservation is one EVALSHA of stock-reserve-5.lua. All of a SKU's keys carry the hash tag
 * `{sku}`, so on a cluster they live in one slot and every script runs on one node; the set of
 * SKUs is the only key outside it (written separately; it only lists what to sweep and report).
 *
 * The server should keep what it acknowledged: run it with `appendonly yes` and `appendfsync
 * always` (docs/operations.md). If it comes back without a SKU, or behind the database (a replica
 * that lagged, a snapshot), the inventory detects it and loads the SKU from the database under a
 * new epoch (`load`).
 */
export class RedisReservationBook implements ReservationBook {
  readonly shared = true;

  constructor(
    private readonly redis: RedisClient,
    /** Before every key, so deployments can share a server. */
    private readonly prefix: string,
    private readonly ownsConnection = true,
  ) {}

  private keys(sku: string): string[] {
    const base = `${this.prefix}stock:{${sku}}:`;
    return [`${base}sale`, `${base}held`, `${base}keys`, `${base}res`, `${base}expiry`, `${base}releasing`];
  }

  private get skuSet(): string {
    return `${this.prefix}stock:skus`;
  }

  async defineSale(terms: SaleTerms): Promise<boolean> {
    const created =
      (await DEFINE.run(this.redis, this.keys(terms.sku).slice(0, 1), [
        terms.stock,
        terms.perUserLimit,
        Date.parse(terms.startsAt),
        Date.parse(terms.endsAt),
      ])) === 1;
    await this.redis.sadd(this.skuSet, terms.sku);
    return created;
  }

  async reserve(request: ReserveRequest, ttlMs: number): Promise<ReserveDecision> {
    const reply = (await RESERVE.run(this.redis, this.keys(request.sku).slice(0, 5), [
      request.orderId,
      request.userId,
      request.quantity,
      request.idempotencyKey,
      ttlMs,
    ])) as [string, string, string | number, number?, number?, number?, number?];
    switch (reply[0]) {
      case "reserved":
        return {
          kind: "reserved",
          reservation: parseRecord(request.sku, reply[1], String(reply[2])),
          after: { sku: request.sku, available: Number(reply[3]), version: Number(reply[4]) },
          fence: { epoch: Number(reply[5]), taken: Number(reply[6]) },
        };
      case "duplicate":
        return { kind: "duplicate", reservation: parseRecord(request.sku, reply[1], String(reply[2])) };
      case "refused": {
        const reason = reply[1] as "no_sale" | "sale_not_open" | "sold_out" | "limit_exceeded";
        if (reason === "no_sale") return { kind: "refused", reason, available: 0 };
        return { kind: "refused", reason, available: Number(reply[2]), version: Number(reply[3]) };
      }
      case "order_exists":
        throw new OrderIdInUseError(request.orderId);
      default:
        throw new Error(`stock-reserve returned ${String(reply[0])}`);
    }
  }

  async transition(op: Transition, ref: ReservationRef, releaseWithinMs = 0): Promise<TransitionResult> {
    const reply = (await TRANSITION.run(this.redis, this.keys(ref.sku), [
      op,
      ref.orderId,
      releaseWithinMs,
    ])) as [string, string?, number?, number?];
    switch (reply[0]) {
      case "unknown":
        return { outcome: "unknown" };
      case "refused":
        return { outcome: "refused", reservation: parseRecord(ref.sku, ref.orderId, String(reply[1])) };
      case "ok":
        if (reply[1]) return { outcome: "ok", reservation: parseRecord(ref.sku, ref.orderId, reply[1]) };
        return {
          outcome: "ok",
          change: { sku: ref.sku, available: Number(reply[2]), version: Number(reply[3]) },
        };
      default:
        throw new Error(`stock-transition returned ${String(reply[0])}`);
    }
  }

  async get(ref: ReservationRef): Promise<Reservation | undefined> {
    const json = await this.redis.hget(this.keys(ref.sku)[RESERVATIONS]!, ref.orderId);
    return json ? parseRecord(ref.sku, ref.orderId, json) : undefined;
  }

  async expired(limit: number): Promise<ReservationRef[]> {
    return this.due(EXPIRY, limit);
  }

  async staleReleases(limit: number): Promise<ReservationRef[]> {
    return this.due(RELEASING, limit);
  }

  /** Order ids whose score has passed (by Redis's clock) in one of each SKU's sorted sets, up to `limit` in all. */
  private async due(set: typeof EXPIRY | typeof RELEASING, limit: number) {
    const refs: ReservationRef[] = [];
    for (const sku of await this.redis.smembers(this.skuSet)) {
      if (refs.length >= limit) break;
      const ids = (await DUE.run(this.redis, [this.keys(sku)[set]!], [limit - refs.length])) as string[];
      for (const orderId of ids) refs.push({ orderId, sku });
    }
    return refs;
  }

  async levels(sku: string): Promise<StockLevels | undefined> {
    const [stock, reserved, sold, epoch] = await this.redis.hmget(
      this.keys(sku)[SALE]!,
      "stock",
      "reserved",
      "sold",
      "epoch",
    );
    if (stock === null || stock === undefined) return undefined;
    const total = Number(stock);
    const held = { reserved: Number(reserved), sold: Number(sold) };
    return { sku, stock: total, available: total - held.reserved - held.sold, ...held, epoch: Number(epoch) };
  }

  async userKeys(sku: string): Promise<string[]> {
    return this.redis.hkeys(this.keys(sku)[KEYS_BY_USER]!);
  }

  async allLevels(): Promise<StockLevels[]> {
    const skus = (await this.redis.smembers(this.skuSet)).sort();
    const levels = await Promise.all(skus.map((sku) => this.levels(sku)));
    return levels.filter((level): level is StockLevels => level !== undefined);
  }

  async load(record: SkuRecord): Promise<boolean> {
    const { terms } = record;
    const args: (string | number)[] = [
      terms.stock,
      terms.perUserLimit,
      Date.parse(terms.startsAt),
      Date.parse(terms.endsAt),
      record.epoch,
    ];
    for (const r of record.reservations) {
      args.push(r.orderId, r.userId, r.quantity, r.idempotencyKey, r.status, r.reservedAtMs, r.expiresAtMs);
    }
    const loaded = (await LOAD.run(this.redis, this.keys(terms.sku), args)) === 1;
    await this.redis.sadd(this.skuSet, terms.sku);
    return loaded;
  }

  async close(): Promise<void> {
    if (this.ownsConnection) this.redis.disconnect();
  }
}

function parseRecord(sku: string, orderId: string, json: string): Reservation {
  const record = JSON.parse(json) as StoredRecord;
  return {
    orderId,
    sku,
    userId: record.u,
    quantity: record.q,
    idempotencyKey: record.k,
    status: record.s,
    reservedAtMs: Number(record.r),
    expiresAtMs: Number(record.e),
  };
}
