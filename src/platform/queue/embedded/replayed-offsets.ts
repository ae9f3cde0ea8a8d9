import { type FileHandle, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory, isErrnoException } from "./durable-files.js";

/** File name in a topic's directory; matches neither segment files nor `<group>.offset` files. */
export const REPLAYED_OFFSETS_FILE = "replayed-offsets.txt";

/**
 * Offsets of a dead-letter topic's records that were replayed: the log itself is append-only, so
 * "removed from the dead-letter topic" is this list, one decimal offset per line, appended and
 * fdatasync'ed. Additions are group-committed like appends. A crash can tear only the last
 * line, which is then ignored: that dead letter shows up again and a later replay duplicates it,
 * which consumers absorb.
 */
export class ReplayedOffsets {
  private readonly offsets: Set<number>;
  /** Being replayed now, so a concurrent replay of the same offset does nothing. */
  private readonly inProgress = new Set<number>();
  private handle: FileHandle | undefined;
  private pending: number[] = [];
  private flushing: Promise<void> | undefined;

  private constructor(
    private readonly path: string,
    offsets: Iterable<number>,
  ) {
    this.offsets = new Set(offsets);
  }

  static async load(directory: string): Promise<ReplayedOffsets> {
    const path = join(directory, REPLAYED_OFFSETS_FILE);
    let text = "";
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (!isErrnoException(error) || error.code !== "ENOENT") throw error;
    }
    const complete = text.slice(0, text.lastIndexOf("\n") + 1);
    const offsets = complete
      .split("\n")
      .filter((line) => /^\d+$/.test(line))
      .map(Number)
      .filter(Number.isSafeInteger);
    return new ReplayedOffsets(path, offsets);
  }

  has(offset: number): boolean {
    return this.offsets.has(offset);
  }

  /** Claims `offset` for a replay: false when it is replayed already or being replayed now. */
  begin(offset: number): boolean {
    if (this.offsets.has(offset) || this.inProgress.has(offset)) return false;
    this.inProgress.add(offset);
    return true;
  }

  /** Ends a claim; call after `add` settled (or the replay failed). */
  end(offset: number): void {
    this.inProgress.delete(offset);
  }

  /** How many replayed offsets are at or above `offset` (below it, retention deleted the records). */
  countFrom(offset: number): number {
    let count = 0;
    for (const replayed of this.offsets) {
      if (replayed >= offset) count += 1;
    }
    return count;
  }

  /** Resolves once `offset` is on disk. */
  async add(offset: number): Promise<void> {
    this.pending.push(offset);
    // Joins the write being prepared, or waits for the one in progress and then writes its own.
    while (this.pending.includes(offset)) {
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
      await this.flushing;
    }
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }

  private async flush(): Promise<void> {
    // Let every replay of this turn join the batch.
    await new Promise((resolve) => setImmediate(resolve));
    const batch = this.pending;
    this.pending = [];
    try {
      if (this.handle === undefined) {
        const handle = await open(this.path, "a");
        this.handle = handle;
        await fsyncDirectory(dirname(this.path));
      }
      await this.handle.appendFile(batch.map((offset) => `${offset}\n`).join(""));
      await this.handle.datasync();
    } catch (error) {
      // Nothing was promised for this batch: its replays fail (their messages were re-appended,
      // so a later replay duplicates them, which consumers absorb).
      throw new Error(`Could not record replayed dead letters in ${this.path}: ${String(error)}`, {
        cause: error,
      });
    }
    for (const offset of batch) this.offsets.add(offset);
  }
}
