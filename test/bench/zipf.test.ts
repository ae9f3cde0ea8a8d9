import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/bench/random.js";
import { ZipfSampler } from "../../src/bench/zipf.js";

describe("ZipfSampler", () => {
  it("gives rank k the probability (1/(k+1)^s) / H(n, s)", () => {
    const sampler = new ZipfSampler(1000, 1.1, seededRandom(1));
    let harmonic = 0;
    for (let k = 1; k <= 1000; k++) harmonic += 1 / k ** 1.1;
    expect(sampler.probability(0)).toBeCloseTo(1 / harmonic, 12);
    expect(sampler.probability(9)).toBeCloseTo(1 / 10 ** 1.1 / harmonic, 12);
    const total = Array.from({ length: 1000 }, (_, k) => sampler.probability(k)).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 12);
    expect(sampler.probability(-1)).toBe(0);
    expect(sampler.probability(1000)).toBe(0);
  });

  it("draws ranks with those frequencies, inside the range, the same for the same seed", () => {
    const draws = 200_000;
    const sampler = new ZipfSampler(1000, 1.1, seededRandom(42));
    const counts = new Array<number>(1000).fill(0);
    let outOfRange = 0;
    for (let i = 0; i < draws; i++) {
      const rank = sampler.next();
      if (!Number.isInteger(rank) || rank < 0 || rank >= 1000) outOfRange++;
      else counts[rank]! += 1;
    }
    expect(outOfRange).toBe(0);
    // Four standard deviations of a binomial count: fails by chance far less than once in 10^4.
    for (const rank of [0, 1, 2, 9, 99]) {
      const expected = sampler.probability(rank) * draws;
      const sd = Math.sqrt(expected * (1 - sampler.probability(rank)));
      expect(Math.abs(counts[rank]! - expected)).toBeLessThan(4 * sd);
    }
    expect(counts[0]!).toBeGreaterThan(counts[1]!);
    expect(counts[1]!).toBeGreaterThan(counts[9]!);

    const again = new ZipfSampler(1000, 1.1, seededRandom(42));
    const first = new ZipfSampler(1000, 1.1, seededRandom(42));
    expect(Array.from({ length: 50 }, () => again.next())).toEqual(
      Array.from({ length: 50 }, () => first.next()),
    );
  });

  it("is uniform for s = 0 and returns the only rank of a one-item catalog", () => {
    const uniform = new ZipfSampler(4, 0, seededRandom(7));
    for (let k = 0; k < 4; k++) expect(uniform.probability(k)).toBeCloseTo(0.25, 12);
    const single = new ZipfSampler(1, 1.1, seededRandom(7));
    expect([single.next(), single.next()]).toEqual([0, 0]);
  });

  it("lands a draw just under 1 on the last rank", () => {
    const sampler = new ZipfSampler(10, 1.1, () => 0.999_999_999_999);
    expect(sampler.next()).toBe(9);
    expect(new ZipfSampler(10, 1.1, () => 0).next()).toBe(0);
  });

  it("refuses sizes and exponents that mean nothing", () => {
    expect(() => new ZipfSampler(0, 1.1, Math.random)).toThrow(RangeError);
    expect(() => new ZipfSampler(2.5, 1.1, Math.random)).toThrow(RangeError);
    expect(() => new ZipfSampler(10, -1, Math.random)).toThrow(RangeError);
    expect(() => new ZipfSampler(10, Number.NaN, Math.random)).toThrow(RangeError);
  });
});

describe("seededRandom", () => {
  it("repeats for a seed, differs between seeds, stays in [0, 1)", () => {
    const a = seededRandom(5);
    const b = seededRandom(5);
    const c = seededRandom(6);
    const fromA = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(fromA);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(fromA);
    expect(fromA.every((value) => value >= 0 && value < 1)).toBe(true);
  });
});
