import type { Database } from "./database.js";

/**
 * Orders are sharded by user onto VIRTUAL_SHARDS virtual shards, which are mapped onto the
 * physical databases. A snowflake id carries its virtual shard in 6 bits, so this number must
 * stay 2^SHARD_BITS (test/platform/db/shard-router.test.ts checks it) and can never change once
 * data exists: it is baked into every id and every user's placement.
 */
export const VIRTUAL_SHARDS = 64;

export interface ShardRouter {
  readonly physicalCount: number;
  /** The physical database holding virtual shard `virtualShard` (0 ≤ virtualShard < VIRTUAL_SHARDS). */
  forVirtualShard(virtualShard: number): Database;
  /** physical[0]: also holds the schemas that are not sharded. */
  readonly primary: Database;
  /** Every physical database, primary first. */
  all(): readonly Database[];
  /** The virtual shards that live on physical database `physicalIndex`, ascending. */
  virtualShardsOf(physicalIndex: number): number[];
}

/**
 * Maps virtual shard v to physical database `v % N`. Fixed arithmetic for now: online
 * resharding will replace it with a mapping table (virtual shard → physical database) that can be
 * changed one virtual shard at a time while its rows are copied.
 */
export function createShardRouter(physical: readonly Database[]): ShardRouter {
  const databases = Object.freeze([...physical]);
  const physicalCount = databases.length;
  const primary = databases[0];
  if (primary === undefined) throw new Error("a shard router needs at least one physical database");
  if (physicalCount > VIRTUAL_SHARDS) {
    // More databases than virtual shards would leave some databases holding no shard at all.
    throw new Error(
      `a shard router takes at most ${VIRTUAL_SHARDS} physical databases, got ${physicalCount}`,
    );
  }
  const physicalIndexOf = (virtualShard: number): number => {
    if (!Number.isInteger(virtualShard) || virtualShard < 0 || virtualShard >= VIRTUAL_SHARDS) {
      throw new RangeError(`virtual shard must be an integer in [0, ${VIRTUAL_SHARDS}), got ${virtualShard}`);
    }
    return virtualShard % physicalCount;
  };
  return {
    physicalCount,
    primary,
    forVirtualShard: (virtualShard) => databases[physicalIndexOf(virtualShard)]!,
    all: () => databases,
    virtualShardsOf(physicalIndex) {
      if (!Number.isInteger(physicalIndex) || physicalIndex < 0 || physicalIndex >= physicalCount) {
        throw new RangeError(
          `physical index must be an integer in [0, ${physicalCount}), got ${physicalIndex}`,
        );
      }
      const shards: number[] = [];
      for (let virtualShard = 0; virtualShard < VIRTUAL_SHARDS; virtualShard++) {
        if (physicalIndexOf(virtualShard) === physicalIndex) shards.push(virtualShard);
      }
      return shards;
    },
  };
}

const FNV_OFFSET_BASIS_32 = 0x811c9dc5;
const FNV_PRIME_32 = 0x01000193;
const utf8 = new TextEncoder();

/**
 * The virtual shard of a sharding key (a user id): FNV-1a 32-bit over the key's UTF-8 bytes,
 * then murmur3's final mix, modulo VIRTUAL_SHARDS. The mix is there because `% 64` keeps only the
 * low 6 bits, and in plain FNV-1a those depend only on the low 6 bits of each input byte (xor and
 * multiplication never carry information downwards): `user-a` and `user-!` would always collide.
 * Frozen: changing a single bit of this function moves users' orders to other shards.
 */
export function virtualShardForKey(key: string): number {
  let hash = FNV_OFFSET_BASIS_32;
  for (const byte of utf8.encode(key)) {
    hash = Math.imul(hash ^ byte, FNV_PRIME_32);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % VIRTUAL_SHARDS;
}
