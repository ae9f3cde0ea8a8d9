import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import type {
  ConfirmOutcome,
  Reservation,
  ReservationBook,
  ReservationRef,
  ReservationStatus,
  ReserveDecision,
  ReserveRequest,
  SaleTerms,
  StockChange,
  StockLevels,
} from "./reservation-book.js";

const script = (name: string) => new LuaScript(fileURLToPath(new URL(name, import.meta.url)));
const DEFINE = script("./stock-define-1.lua");
const RESERVE = script("./stock-reserve-5.lua");
const TRANSITION = script("./stock-transition-6.lua");
const ADOPT = script("./stock-adopt-5.lua");
const RESTORE = script("./stock-restore-5.lua");

/** A reservation as the scripts store it (short names: there may be millions). */
interface StoredRecord {
  readonly u: string;
  readonly q: number;
  readonly k: string;
  readonly s: ReservationStatus;
  readonly r: string;
  readonly e: string;
}

/** Indexes into `keys(sku)` of the two sorted sets the sweeper reads. */
const EXPIRY = 4;
const RELEASING = 5;

type Transition = "confirm" | "begin-release" | "abort-release" | "finish-release" | "forget";

/**
 * The reservation book in Redis or Redis Cluster, shared by every inventory process. Each
 * reservation is one EVALSHA of stock-reserve-5.lua. All of a SKU's keys carry the hash tag
 * `{sku}`, so on a cluster they live in one slot and every script runs on one node; the set of
 * SKUs is the only key outside it (written separately; it only lists what to sweep and report).
 *
 * The server must keep what it acknowledged: run it with `appendonly yes` and `appendfsync
 * always` (docs/operations.md). If it loses its data anyway, the inventory rebuilds each SKU from
 * the database (`restore`) and reconciliation reports what differs.
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

  async reserve(request: ReserveRequest, nowMs: number, ttlMs: number): Promise<ReserveDecision> {
    const reply = (await RESERVE.run(this.redis, this.keys(request.sku).slice(0, 5), [
      request.orderId,
      request.userId,
      request.quantity,
      request.idempotencyKey,
      nowMs,
      nowMs + ttlMs,
    ])) as [string, string, string | number, number?, number?];
    switch (reply[0]) {
      case "reserved":
        return {
          kind: "reserved",
          reservation: parseRecord(request.sku, reply[1], String(reply[2])),
          after: { sku: request.sku, available: Number(reply[3]), version: Number(reply[4]) },
        };
      case "duplicate":
        return { kind: "duplicate", reservation: parseRecord(request.sku, reply[1], String(reply[2])) };
      case "refused": {
        const reason = reply[1] as "no_sale" | "sale_not_open" | "sold_out" | "limit_exceeded";
        if (reason === "no_sale") return { kind: "refused", reason, available: 0 };
        return { kind: "refused", reason, available: Number(reply[2]), version: Number(reply[3]) };
      }
      default:
        throw new Error(`stock-reserve returned ${String(reply[0])}`);
    }
  }

  private async transition(op: Transition, ref: ReservationRef, deadlineMs = 0): Promise<unknown[]> {
    return (await TRANSITION.run(this.redis, this.keys(ref.sku), [op, ref.orderId, deadlineMs])) as unknown[];
  }

  async confirm(refs: readonly ReservationRef[]): Promise<ConfirmOutcome> {
    const replies = await Promise.all(refs.map((ref) => this.transition("confirm", ref)));
    const confirmed: Reservation[] = [];
    const notConfirmed: ReservationRef[] = [];
    const beingReleased: ReservationRef[] = [];
    replies.forEach((reply, index) => {
      const ref = refs[index]!;
      if (reply[0] === "ok") confirmed.push(parseRecord(ref.sku, ref.orderId, String(reply[1])));
      else if (
        reply[0] === "refused" &&
        parseRecord(ref.sku, ref.orderId, String(reply[1])).status === "releasing"
      )
        beingReleased.push(ref);
      else notConfirmed.push(ref);
    });
    return { confirmed, notConfirmed, beingReleased };
  }

  async beginRelease(ref: ReservationRef, deadlineMs: number): Promise<Reservation | undefined> {
    const reply = await this.transition("begin-release", ref, deadlineMs);
    return reply[0] === "ok" ? parseRecord(ref.sku, ref.orderId, String(reply[1])) : undefined;
  }

  async finishRelease(ref: ReservationRef): Promise<StockChange | undefined> {
    return changeOf(ref.sku, await this.transition("finish-release", ref));
  }

  async abortRelease(ref: ReservationRef): Promise<void> {
    await this.transition("abort-release", ref);
  }

  async forget(ref: ReservationRef): Promise<StockChange | undefined> {
    return changeOf(ref.sku, await this.transition("forget", ref));
  }

  async expired(nowMs: number, limit: number): Promise<ReservationRef[]> {
    return this.due(EXPIRY, nowMs, limit);
  }

  async staleReleases(nowMs: number, limit: number): Promise<ReservationRef[]> {
    return this.due(RELEASING, nowMs, limit);
  }

  /** Order ids scored at or before `nowMs` in one of each SKU's sorted sets, up to `limit` in all. */
  private async due(set: typeof EXPIRY | typeof RELEASING, nowMs: number, limit: number) {
    const refs: ReservationRef[] = [];
    for (const sku of await this.redis.smembers(this.skuSet)) {
      if (refs.length >= limit) break;
      const ids = await this.redis.zrangebyscore(this.keys(sku)[set]!, "-inf", nowMs, "LIMIT", 0, limit);
      for (const orderId of ids.slice(0, limit - refs.length)) refs.push({ orderId, sku });
    }
    return refs;
  }

  async adopt(r: Reservation) {
    return (await ADOPT.run(this.redis, this.keys(r.sku).slice(0, 5), reservationArgs(r))) as
      | "present"
      | "adopted"
      | "no_sale"
      | "no_stock"
      | "conflict";
  }

  async levels(sku: string): Promise<StockLevels | undefined> {
    const [stock, reserved, sold] = await this.redis.hmget(this.keys(sku)[0]!, "stock", "reserved", "sold");
    if (stock === null || stock === undefined) return undefined;
    const total = Number(stock);
    const held = { reserved: Number(reserved), sold: Number(sold) };
    return { sku, stock: total, available: total - held.reserved - held.sold, ...held };
  }

  async userKeys(sku: string): Promise<string[]> {
    return this.redis.hkeys(this.keys(sku)[2]!);
  }

  async allLevels(): Promise<StockLevels[]> {
    const skus = (await this.redis.smembers(this.skuSet)).sort();
    const levels = await Promise.all(skus.map((sku) => this.levels(sku)));
    return levels.filter((level): level is StockLevels => level !== undefined);
  }

  async restore(terms: SaleTerms, reservations: readonly Reservation[]): Promise<boolean> {
    const args: (string | number)[] = [
      terms.stock,
      terms.perUserLimit,
      Date.parse(terms.startsAt),
      Date.parse(terms.endsAt),
      0, // unused: the script takes the version from Redis's clock
    ];
    for (const r of reservations) args.push(...reservationArgs(r));
    const loaded = (await RESTORE.run(this.redis, this.keys(terms.sku).slice(0, 5), args)) === 1;
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

/** A live reservation as the restore and adopt scripts take it: 7 arguments. */
function reservationArgs(r: Reservation): (string | number)[] {
  const status = r.status === "confirmed" ? "confirmed" : "reserved";
  return [r.orderId, r.userId, r.quantity, r.idempotencyKey, status, r.reservedAtMs, r.expiresAtMs];
}

function changeOf(sku: string, reply: unknown[]): StockChange | undefined {
  if (reply[0] !== "ok") return undefined;
  return { sku, available: Number(reply[2]), version: Number(reply[3]) };
}
