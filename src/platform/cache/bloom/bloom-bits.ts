import { type BloomShape, bitPositions } from "./bloom-math.js";

/**
 * A Bloom filter's bit array of a fixed shape, in this process: the data structure alone, with no
 * port behind it. The in-process MembershipFilter is built on it, and so are the holders filters
 * that reservation books keep and the sold-out news carries (as a `BloomSnapshot`).
 */
export class BloomBits {
  private constructor(
    readonly shape: BloomShape,
    private readonly bits: Uint8Array,
  ) {}

  static ofShape(shape: BloomShape): BloomBits {
    return new BloomBits(shape, new Uint8Array(Math.ceil(shape.bits / 8)));
  }

  /** False: surely never added. True: maybe (at the shape's false-positive rate). */
  test(item: string): boolean {
    for (const position of bitPositions(item, this.shape)) {
      if ((this.bits[position >> 3]! & (1 << (position & 7))) === 0) return false;
    }
    return true;
  }

  add(items: readonly string[]): void {
    for (const item of items) {
      for (const position of bitPositions(item, this.shape)) this.bits[position >> 3]! |= 1 << (position & 7);
    }
  }

  /** The filter as plain data, to send to another process (which rebuilds it with `fromSnapshot`). */
  snapshot(): BloomSnapshot {
    return { ...this.shape, data: Buffer.from(this.bits).toString("base64") };
  }

  static fromSnapshot(snapshot: BloomSnapshot): BloomBits {
    const bits = new Uint8Array(Buffer.from(snapshot.data, "base64"));
    if (!(snapshot.bits >= 1 && snapshot.hashes >= 1 && bits.length === Math.ceil(snapshot.bits / 8))) {
      throw new RangeError("malformed Bloom filter snapshot");
    }
    return new BloomBits({ bits: snapshot.bits, hashes: snapshot.hashes }, bits);
  }
}

export interface BloomSnapshot extends BloomShape {
  /** The bit array, base64: bit `p` is bit `p % 8` (least significant first) of byte `p / 8`. */
  readonly data: string;
}
