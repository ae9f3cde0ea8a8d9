/**
 * A seeded pseudo-random source (mulberry32). The bench must be repeatable: the same seed gives
 * the same Zipf ids and the same request mix, so two runs differ only in what they measure.
 * Math.random cannot be seeded; cryptographic quality is not needed here.
 */
export type RandomSource = () => number;

export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
