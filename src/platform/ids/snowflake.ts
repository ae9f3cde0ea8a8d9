/**
 * Snowflake ids: 63 bits that sort by time and carry the virtual shard they belong to, so an id
 * routes to its database alone (no lookup table).
 *
 *   | 41 bits: ms since EPOCH | 10 bits: sequence | 6 bits: virtual shard | 6 bits: worker |
 *
 * The sequence sits above shard and worker so that ids from one generator are strictly increasing
 * whatever shard each was minted for (a generator serves every shard).
 * 41 bits of milliseconds last ~69 years from 2024-01-01. Ids are strictly increasing per
 * generator: when the clock steps back we keep issuing from the last timestamp we used (a logical
 * clock), and when a millisecond's 1,024 sequence numbers run out we borrow the next millisecond
 * instead of waiting. Ids therefore never repeat and never go backwards, at the price of running
 * slightly ahead of the wall clock for as long as the clock is behind.
 */
export const SNOWFLAKE_EPOCH_MS = Date.UTC(2024, 0, 1);
export const SHARD_BITS = 6;
export const WORKER_BITS = 6;
export const SEQUENCE_BITS = 10;
export const MAX_SHARD = (1 << SHARD_BITS) - 1;
export const MAX_WORKER = (1 << WORKER_BITS) - 1;
const MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1;

const WORKER_SHIFT = 0n;
const SHARD_SHIFT = BigInt(WORKER_BITS);
const SEQUENCE_SHIFT = BigInt(WORKER_BITS + SHARD_BITS);
const TIME_SHIFT = BigInt(SHARD_BITS + WORKER_BITS + SEQUENCE_BITS);

export interface SnowflakeParts {
  readonly timestampMs: number;
  readonly shard: number;
  readonly worker: number;
  readonly sequence: number;
}

export class SnowflakeGenerator {
  private lastMs = -1;
  private sequence = 0;

  constructor(
    private readonly worker: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(worker) || worker < 0 || worker > MAX_WORKER) {
      throw new RangeError(`snowflake worker id must be an integer in [0, ${MAX_WORKER}], got ${worker}`);
    }
  }

  /** A new id for `shard`, as a decimal string (ids exceed 2^53, so never a JS number). */
  next(shard: number): string {
    if (!Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
      throw new RangeError(`snowflake shard must be an integer in [0, ${MAX_SHARD}], got ${shard}`);
    }
    // First, so that a generator that may not mint now throws before it uses up a sequence number.
    const worker = this.workerForNextId();
    const wallMs = this.now() - SNOWFLAKE_EPOCH_MS;
    if (wallMs > this.lastMs) {
      this.lastMs = wallMs;
      this.sequence = 0;
    } else if (this.sequence < MAX_SEQUENCE) {
      // Same millisecond, or the clock stepped back: stay on the last timestamp.
      this.sequence += 1;
    } else {
      this.lastMs += 1;
      this.sequence = 0;
    }
    const id =
      (BigInt(this.lastMs) << TIME_SHIFT) |
      (BigInt(shard) << SHARD_SHIFT) |
      (BigInt(worker) << WORKER_SHIFT) |
      (BigInt(this.sequence) << SEQUENCE_SHIFT);
    return id.toString();
  }

  /**
   * The newest timestamp (Unix ms) an id of this generator carries, or -Infinity before the first
   * id. It can be ahead of the wall clock (see above), which is why a worker id's next holder is
   * told this rather than the time.
   */
  get newestTimestampMs(): number {
    return this.lastMs < 0 ? Number.NEGATIVE_INFINITY : this.lastMs + SNOWFLAKE_EPOCH_MS;
  }

  /**
   * Ids minted from now on carry timestamps later than `unixMs`. A generator that takes over a
   * worker id calls it with the newest timestamp the id's previous holder may have used, so that
   * the two never mint the same id even when this host's clock is behind the other's.
   */
  continueAfter(unixMs: number): void {
    const after = Math.floor(unixMs) - SNOWFLAKE_EPOCH_MS;
    if (after >= this.lastMs) {
      // The next id moves to a later millisecond (a sequence of MAX means "this ms is used up").
      this.lastMs = after;
      this.sequence = MAX_SEQUENCE;
    }
  }

  /** The worker id the next id carries. A leased generator overrides it to check its lease. */
  protected workerForNextId(): number {
    return this.worker;
  }
}

const SNOWFLAKE_PATTERN = /^[1-9][0-9]{0,18}$/;

/** Parses an id from untrusted input; undefined when it is not a well-formed snowflake. */
export function parseSnowflake(text: string): SnowflakeParts | undefined {
  if (!SNOWFLAKE_PATTERN.test(text)) return undefined;
  const id = BigInt(text);
  if (id >= 1n << 63n) return undefined;
  return {
    timestampMs: Number(id >> TIME_SHIFT) + SNOWFLAKE_EPOCH_MS,
    shard: Number((id >> SHARD_SHIFT) & BigInt(MAX_SHARD)),
    worker: Number((id >> WORKER_SHIFT) & BigInt(MAX_WORKER)),
    sequence: Number((id >> SEQUENCE_SHIFT) & BigInt(MAX_SEQUENCE)),
  };
}

/** The smallest id any generator can mint at `timestampMs`: ids from then on are >= it. */
export function smallestSnowflakeAt(timestampMs: number): string {
  return (BigInt(Math.max(0, timestampMs - SNOWFLAKE_EPOCH_MS)) << TIME_SHIFT).toString();
}

/** The virtual shard an id was minted for; undefined for malformed input. */
export function shardOfSnowflake(text: string): number | undefined {
  return parseSnowflake(text)?.shard;
}
