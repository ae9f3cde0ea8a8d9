/**
 * Bloom filter sizing and bit positions, shared by the in-process and Redis filters so both set
 * and test exactly the same bits.
 */
export interface BloomShape {
  /** Number of bits. */
  readonly bits: number;
  /** Number of hash functions. */
  readonly hashes: number;
}

/** The classic optimum: m = -n·ln p / (ln 2)², k = (m/n)·ln 2. */
export function bloomShape(expectedItems: number, falsePositiveRate: number): BloomShape {
  if (!(expectedItems >= 1)) throw new RangeError("expectedItems must be at least 1");
  if (!(falsePositiveRate > 0 && falsePositiveRate < 1))
    throw new RangeError("falsePositiveRate must be in (0, 1)");
  const bits = Math.ceil((-expectedItems * Math.log(falsePositiveRate)) / Math.LN2 ** 2);
  const hashes = Math.max(1, Math.round((bits / expectedItems) * Math.LN2));
  return { bits, hashes };
}

/** murmur3's 32-bit finaliser-based string hash (hand-written: 15 lines beat a dependency). */
function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The k bit positions of an item, by double hashing (Kirsch–Mitzenmacher): g_i = h1 + i·h2 mod m,
 * which keeps the false-positive rate of k independent hashes at the cost of two.
 */
export function bitPositions(item: string, shape: BloomShape): number[] {
  const h1 = hash32(item, 0x9747b28c);
  const h2 = (hash32(item, 0x5bd1e995) | 1) >>> 0; // odd, so the steps cycle through every residue
  const positions = new Array<number>(shape.hashes);
  for (let i = 0; i < shape.hashes; i++) positions[i] = (h1 + i * h2) % shape.bits;
  return positions;
}
