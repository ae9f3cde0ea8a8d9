import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../../redis/lua-script.js";
import { type BloomShape, bitPositions, bloomShape } from "./bloom-math.js";
import type { FilterLookup, FilterState, MembershipFilter } from "./membership-filter.js";

const checkScript = new LuaScript(fileURLToPath(new URL("./bloom-check-2.lua", import.meta.url)));
const addScript = new LuaScript(fileURLToPath(new URL("./bloom-add-2.lua", import.meta.url)));
/** A staging bitmap left by a rebuild that died half-way expires by itself. */
const STAGING_TTL_MS = 60_000;

/**
 * A Bloom filter shared by every process: a Redis bitmap plus a meta hash with its shape, stamp,
 * generation and build time. Both keys share a hash tag, so on Redis Cluster they live on one
 * slot (the scripts and the RENAME of a rebuild touch both), and a snapshot or a failover moves
 * them together. Processes cache the shape; the scripts refuse a stale one (after another process
 * rebuilt the filter bigger) and the caller re-reads it, so a resize never produces a false
 * "absent". A bitmap that vanished while its meta stayed (evicted) answers "maybe" for everything
 * until the owner rebuilds it (`state().intact` is false), instead of "absent" for everything.
 */
export class RedisBloomFilter implements MembershipFilter {
  private readonly bitsKey: string;
  private readonly metaKey: string;
  private shape: BloomShape | undefined;

  constructor(
    private readonly redis: RedisClient,
    name: string,
    private readonly falsePositiveRate: number,
  ) {
    this.bitsKey = `{bloom:${name}}:bits`;
    this.metaKey = `{bloom:${name}}:meta`;
  }

  async mightContain(item: string): Promise<boolean> {
    return (await this.lookup(item)).maybe;
  }

  async lookup(item: string): Promise<FilterLookup> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const shape = await this.currentShape();
      if (!shape) return NEVER_BUILT; // we cannot rule anything out
      const [answer, stamp] = (await checkScript.run(
        this.redis,
        [this.bitsKey, this.metaKey],
        [shape.bits, ...bitPositions(item, shape)],
      )) as [string, string];
      if (answer !== "stale-shape") return { maybe: answer !== "absent", stamp: Number(stamp) };
      this.shape = undefined;
    }
    return NEVER_BUILT;
  }

  async add(items: readonly string[], mark?: { stamp: number; generation: string }): Promise<void> {
    if (items.length === 0 && !mark) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      const shape = await this.currentShape();
      if (!shape) return; // not built yet: the first rebuild will include these items
      const positions = items.flatMap((item) => bitPositions(item, shape));
      const result = await addScript.run(
        this.redis,
        [this.bitsKey, this.metaKey],
        [shape.bits, items.length, mark ? mark.stamp : "", mark ? mark.generation : "", ...positions],
      );
      // "lost": the filter answers "maybe" for everything until rebuilt, these items included.
      if (result !== "stale-shape") return;
      this.shape = undefined;
    }
    throw new Error("the Bloom filter kept changing shape while adding");
  }

  async rebuild(
    items: readonly string[],
    expectedItems: number,
    mark?: { stamp: number; builtAt: number },
  ): Promise<void> {
    const capacity = Math.max(1, expectedItems);
    const shape = bloomShape(capacity, this.falsePositiveRate);
    // Built here and written in one SET: Redis bitmaps number bits from the most significant bit
    // of the first byte.
    const bitmap = Buffer.alloc(Math.ceil(shape.bits / 8));
    for (const item of items) {
      for (const position of bitPositions(item, shape)) bitmap[position >> 3]! |= 0x80 >> (position & 7);
    }
    // A staging key of its own per rebuild, swapped in with the meta in one MULTI: the bitmap and
    // the meta hash always come from the same rebuild, even when two processes rebuild at once.
    const generation = randomUUID();
    const staging = `${this.bitsKey}:next:${generation}`;
    await this.redis.set(staging, bitmap, "PX", STAGING_TTL_MS);
    const results = await this.redis
      .multi()
      .rename(staging, this.bitsKey)
      .persist(this.bitsKey)
      .hset(this.metaKey, {
        bits: shape.bits,
        hashes: shape.hashes,
        count: items.length,
        capacity,
        stamp: mark?.stamp ?? 0,
        generation,
        builtAt: mark?.builtAt ?? 0,
      })
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed)
      throw new Error(`rebuilding the Bloom filter failed: ${failed?.[0]?.message ?? "aborted"}`);
    this.shape = shape;
  }

  async state(): Promise<FilterState> {
    const [meta, bitmapExists] = await Promise.all([
      this.redis.hgetall(this.metaKey),
      this.redis.exists(this.bitsKey),
    ]);
    const capacity = Number(meta.capacity ?? 0);
    return {
      count: Number(meta.count ?? 0),
      capacity,
      stamp: Number(meta.stamp ?? 0),
      generation: meta.generation ?? "",
      builtAt: Number(meta.builtAt ?? 0),
      intact: capacity === 0 || bitmapExists === 1,
    };
  }

  private async currentShape(): Promise<BloomShape | undefined> {
    if (this.shape) return this.shape;
    const meta = await this.redis.hmget(this.metaKey, "bits", "hashes");
    if (!meta[0] || !meta[1]) return undefined;
    this.shape = { bits: Number(meta[0]), hashes: Number(meta[1]) };
    return this.shape;
  }
}

const NEVER_BUILT: FilterLookup = { maybe: true, stamp: 0 };
