import { describe, expect, it } from "vitest";
import {
  MAX_SHARD,
  parseSnowflake,
  SNOWFLAKE_EPOCH_MS,
  SnowflakeGenerator,
  smallestSnowflakeAt,
} from "../../../src/platform/ids/snowflake.js";

describe("snowflake ids", () => {
  it("round-trips time, shard, worker and sequence", () => {
    const at = SNOWFLAKE_EPOCH_MS + 123_456_789;
    const gen = new SnowflakeGenerator(17, () => at);
    const parts = parseSnowflake(gen.next(42));
    expect(parts).toEqual({ timestampMs: at, shard: 42, worker: 17, sequence: 0 });
  });

  it("is strictly increasing under a burst within one millisecond (sequence overflow borrows ahead)", () => {
    const gen = new SnowflakeGenerator(1, () => SNOWFLAKE_EPOCH_MS + 1000);
    let previous = 0n;
    for (let i = 0; i < 5000; i++) {
      const id = BigInt(gen.next(i % (MAX_SHARD + 1)));
      expect(id > previous).toBe(true);
      previous = id;
    }
  });

  it("never repeats or goes backwards when the clock steps back", () => {
    let clock = SNOWFLAKE_EPOCH_MS + 50_000;
    const gen = new SnowflakeGenerator(3, () => clock);
    const ids: bigint[] = [];
    for (let i = 0; i < 3000; i++) {
      // A clock that jumps back 10 s every 500 ids and otherwise creeps forward.
      clock += i % 500 === 0 ? -10_000 : i % 7 === 0 ? 1 : 0;
      ids.push(BigInt(gen.next(5)));
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("continues after a given timestamp, even one the clock has not reached, and reports its newest", () => {
    const clock = SNOWFLAKE_EPOCH_MS + 10_000;
    const gen = new SnowflakeGenerator(4, () => clock);
    expect(gen.newestTimestampMs).toBe(Number.NEGATIVE_INFINITY);
    gen.continueAfter(clock + 5_000);
    const first = parseSnowflake(gen.next(0))!;
    expect(first.timestampMs).toBe(clock + 5_001);
    expect(gen.newestTimestampMs).toBe(clock + 5_001);
    // An earlier bound changes nothing: ids never go back.
    gen.continueAfter(clock);
    expect(BigInt(gen.next(0)) > BigInt(smallestSnowflakeAt(clock + 5_001))).toBe(true);
  });

  it("rejects out-of-range shard and worker, and malformed text", () => {
    expect(() => new SnowflakeGenerator(64)).toThrow(RangeError);
    expect(() => new SnowflakeGenerator(0).next(64)).toThrow(RangeError);
    for (const bad of ["", "0", "-1", "abc", "1e5", "01", "99999999999999999999", "9223372036854775808"]) {
      expect(parseSnowflake(bad)).toBeUndefined();
    }
  });
});
