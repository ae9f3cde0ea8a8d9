import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { replaceFileAtomically } from "./durable-files.js";

const OFFSET_FILE = /^(.+)\.offset$/;

/**
 * Committed offsets of every consumer group of one topic, one small file per group
 * (`<group>.offset`, replaced atomically). The in-memory view only ever holds values that are
 * on disk (or the start offset of a group still being registered), because segment deletion is
 * decided from it: deleting on the strength of an offset a crash could roll back would lose
 * messages the group never acknowledged.
 */
export class GroupOffsetStore {
  private readonly committed = new Map<string, number>();
  /** Serialises writes per group: each write reuses the group's temporary file name. */
  private readonly writes = new Map<string, Promise<void>>();

  private constructor(private readonly directory: string) {}

  static async load(directory: string, warn: (message: string) => void): Promise<GroupOffsetStore> {
    const store = new GroupOffsetStore(directory);
    for (const name of await readdir(directory)) {
      const group = OFFSET_FILE.exec(name)?.[1];
      if (group === undefined) {
        continue;
      }
      const text = await readFile(join(directory, name), "utf8");
      const offset = Number(text.trim());
      if (text.trim() === "" || !Number.isSafeInteger(offset) || offset < 0) {
        // Losing the offset means redelivering from the oldest retained record: duplicates, which
        // consumers tolerate, rather than refusing to start.
        warn(`ignoring unreadable committed offset file ${name} (${JSON.stringify(text.slice(0, 40))})`);
        continue;
      }
      store.committed.set(group, offset);
    }
    return store;
  }

  get(group: string): number | undefined {
    return this.committed.get(group);
  }

  /** Lowest committed offset over all known groups; `undefined` when the topic has none. */
  lowest(): number | undefined {
    let lowest: number | undefined;
    for (const offset of this.committed.values()) {
      lowest = lowest === undefined ? offset : Math.min(lowest, offset);
    }
    return lowest;
  }

  entries(): IterableIterator<[string, number]> {
    return this.committed.entries();
  }

  /**
   * Records a new group starting at `startOffset`. The in-memory value is set at once so a
   * concurrent retention pass cannot delete the records the group is about to read.
   */
  register(group: string, startOffset: number): Promise<void> {
    this.committed.set(group, startOffset);
    return this.save(group, startOffset);
  }

  save(group: string, offset: number): Promise<void> {
    const previous = this.writes.get(group) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(() => replaceFileAtomically(join(this.directory, `${group}.offset`), `${offset}\n`))
      .then(() => {
        this.committed.set(group, offset);
      });
    this.writes.set(group, write);
    return write;
  }
}
