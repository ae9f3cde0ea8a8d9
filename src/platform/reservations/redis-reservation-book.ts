import { fileURLToPath } from "node:url";
import type { BloomSnapshot } from "../cache/bloom/bloom-bits.js";
import { type BloomShape, bitPositions } from "../cache/bloom/bloom-math.js";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import {
  holderKey,
  holdersShape,
  OrderIdInUseError,
  type Reservation,
  type ReservationBook,
  type ReservationRef,
  type ReservationStatus,
  type ReserveDecision,
  type ReserveRequest,
  type SaleTerms,
  type SkuRecord,
  type StockChange,
  type StockLevels,
  settledOrderKey,
  type Transition,
  type TransitionResult,
} from "./reservation-book.js";

const script = (name: string) => new LuaScript(fileURLToPath(new URL(name, import.meta.url)));
const DEFINE = script("./stock-define-1.lua");
const RESERVE = script("./stock-reserve-6.lua");
const TRANSITION = script("./stock-transition-7.lua");
const LOAD = script("./stock-load-7.lua");
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
const RESERVATIONS = 3;
const EXPIRY = 4;
const HOLDERS = 5;
const RELEASING = 6;
/** The keys the reserve script takes: `keys(sku)` up to the holders bitmap. */
const RESERVE_KEYS = 6;

/**
 * The reservation book in Redis or Redis Cluster, shared by every inventory process. Each
 * reservation is one EVALSHA of stock-reserve-6.lua. All of a SKU's keys carry the hash tag
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
  /**
   * Each SKU's holders filter shape, as last seen: bit positions are computed here, and a script
   * that finds the SKU's shape changed (a load under new stock) answers `stale_shape` with the new one.
   */
  private readonly shapes = new Map<string, BloomShape>();

  constructor(
    private readonly redis: RedisClient,
    /** Before every key, so deployments can share a server. */
    private readonly prefix: string,
    private readonly ownsConnection = true,
  ) {}

  private keys(sku: string): string[] {
    const base = `${this.prefix}stock:{${sku}}:`;
    return [
      `${base}sale`,
      `${base}held`,
      `${base}keys`,
      `${base}res`,
      `${base}expiry`,
      `${base}holders`,
      `${base}releasing`,
    ];
  }

  /**
   * Runs a script that takes the positions of `item` in the SKU's holders filter (after `args`),
   * again with the SKU's shape if the one known here was stale.
   */
  private async withPositions(
    sku: string,
    item: string,
    run: (shapeBits: number, positions: number[]) => Promise<unknown[]>,
  ): Promise<unknown[]> {
    for (let attempt = 0; ; attempt++) {
      const shape = this.shapes.get(sku);
      const reply = await run(shape?.bits ?? 0, shape ? bitPositions(item, shape) : []);
      if (reply[0] !== "stale_shape") return reply;
      if (attempt >= 2) throw new Error(`the holders filter of ${sku} keeps changing shape`);
      this.shapes.set(sku, { bits: Number(reply[1]), hashes: Number(reply[2]) });
    }
  }

  private get skuSet(): string {
    return `${this.prefix}stock:skus`;
  }

  async defineSale(terms: SaleTerms): Promise<boolean> {
    const shape = holdersShape(terms.stock);
    const created =
      (await DEFINE.run(this.redis, this.keys(terms.sku).slice(0, 1), [
        terms.stock,
        terms.perUserLimit,
        Date.parse(terms.startsAt),
        Date.parse(terms.endsAt),
        shape.bits,
        shape.hashes,
      ])) === 1;
    await this.redis.sadd(this.skuSet, terms.sku);
    return created;
  }

  async reserve(request: ReserveRequest, ttlMs: number): Promise<ReserveDecision> {
    const keys = this.keys(request.sku).slice(0, RESERVE_KEYS);
    const reply = (await this.withPositions(
      request.sku,
      holderKey(request.userId, request.idempotencyKey),
      async (bits, positions) =>
        (await RESERVE.run(this.redis, keys, [
          request.orderId,
          request.userId,
          request.quantity,
          request.idempotencyKey,
          ttlMs,
          request.settledChecked ? "1" : "0",
          bits,
          ...positions,
        ])) as unknown[],
    )) as [string, string, string | number, number?, number?, number?, number?];
    switch (reply[0]) {
      case "maybe_settled":
        return { kind: "maybe_settled" };
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
    const reply = (await this.withPositions(
      ref.sku,
      settledOrderKey(ref.orderId),
      async (bits, positions) =>
        (await TRANSITION.run(this.redis, this.keys(ref.sku), [
          op,
          ref.orderId,
          releaseWithinMs,
          "",
          0,
          bits,
          ...positions,
        ])) as unknown[],
    )) as [string, string?, number?, number?];
    switch (reply[0]) {
      case "unknown":
        return { outcome: "unknown" };
      case "settled":
        return { outcome: "settled" };
      case "refused":
        return { outcome: "refused", reservation: parseRecord(ref.sku, ref.orderId, String(reply[1])) };
      case "ok":
        if (reply[1]) return { outcome: "ok", reservation: parseRecord(ref.sku, ref.orderId, reply[1]) };
        if (reply[1] === undefined) return { outcome: "ok" }; // settled now
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

  async unsell(
    ref: ReservationRef,
    holder: { userId: string; quantity: number },
  ): Promise<StockChange | undefined> {
    const reply = (await this.withPositions(
      ref.sku,
      settledOrderKey(ref.orderId),
      async (bits) =>
        (await TRANSITION.run(this.redis, this.keys(ref.sku), [
          "unsell",
          ref.orderId,
          0,
          holder.userId,
          holder.quantity,
          bits,
        ])) as unknown[],
    )) as [string, string?, number?, number?];
    if (reply[0] !== "ok") return undefined;
    return { sku: ref.sku, available: Number(reply[2]), version: Number(reply[3]) };
  }

  async holders(sku: string): Promise<BloomSnapshot | undefined> {
    const keys = this.keys(sku);
    const [[, shape], [, bitmap]] = (await this.redis
      .multi()
      .hmget(keys[SALE]!, "hbits", "hk")
      .getBuffer(keys[HOLDERS]!)
      .exec()) as [[unknown, (string | null)[]], [unknown, Buffer | null]];
    if (!shape[0] || !shape[1]) return undefined;
    const bits = Number(shape[0]);
    // SETBIT grows the string only as far as the highest bit set: the rest are zeros.
    const layout = new Uint8Array(Math.ceil(bits / 8));
    if (bitmap) layout.set(reverseBitsInEachByte(bitmap.subarray(0, layout.length)));
    return { bits, hashes: Number(shape[1]), data: Buffer.from(layout).toString("base64") };
  }

  async allLevels(): Promise<StockLevels[]> {
    const skus = (await this.redis.smembers(this.skuSet)).sort();
    const levels = await Promise.all(skus.map((sku) => this.levels(sku)));
    return levels.filter((level): level is StockLevels => level !== undefined);
  }

  async load(record: SkuRecord): Promise<boolean> {
    const { terms } = record;
    const { settled } = record;
    const args: (string | number | Buffer)[] = [
      terms.stock,
      terms.perUserLimit,
      Date.parse(terms.startsAt),
      Date.parse(terms.endsAt),
      record.epoch,
      settled.sold,
      settled.holders.bits,
      settled.holders.hashes,
      reverseBitsInEachByte(Buffer.from(settled.holders.data, "base64")),
      settled.heldByUser.size,
    ];
    for (const [userId, units] of settled.heldByUser) args.push(userId, units);
    for (const r of record.reservations) {
      args.push(r.orderId, r.userId, r.quantity, r.idempotencyKey, r.status, r.reservedAtMs, r.expiresAtMs);
    }
    const loaded = (await LOAD.run(this.redis, this.keys(terms.sku), args)) === 1;
    await this.redis.sadd(this.skuSet, terms.sku);
    if (loaded) this.shapes.set(terms.sku, { bits: settled.holders.bits, hashes: settled.holders.hashes });
    return loaded;
  }

  async close(): Promise<void> {
    if (this.ownsConnection) this.redis.disconnect();
  }
}

/**
 * Redis numbers a bitmap's bits from the most significant bit of each byte (SETBIT offset 0 is
 * 0x80 of byte 0); the in-process filter from the least. The same positions, the other layout.
 */
function reverseBitsInEachByte(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = BIT_REVERSED[bytes[i]!]!;
  return out;
}

const BIT_REVERSED = Uint8Array.from({ length: 256 }, (_, byte) => {
  let reversed = 0;
  for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) reversed |= 0x80 >> bit;
  return reversed;
});

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
