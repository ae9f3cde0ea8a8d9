import type { DeadLetter, DeadLetterSelection, ReplayOptions, ReplayResult } from "./stream.js";

/** What an adapter offers the shared replay loop: its dead-letter topic, read and trimmed. */
export interface DeadLetterSource {
  /** Dead letters after `after` (all when undefined) in id order, at most `limit`. */
  list(after: string | undefined, limit: number): Promise<DeadLetter[]>;
  /** Those of `ids` still in the dead-letter topic; throws InvalidDeadLetterIdError for a malformed id. */
  find(ids: readonly string[]): Promise<DeadLetter[]>;
  count(): Promise<number>;
  /**
   * Appends the dead letter to its original topic and, once that append is durable, removes it
   * from the dead-letter topic. Resolves false when it was gone already (replayed meanwhile).
   */
  replay(deadLetter: DeadLetter): Promise<boolean>;
}

/** Dead letters are read this many at a time when replaying "all". */
const PAGE_SIZE = 100;

/**
 * The replay loop every adapter shares. "all" means the dead letters present when the replay
 * starts: it stops after that many, so a poison message that fails again and comes back while a
 * long replay runs is not replayed over and over. Dead letters are replayed a page at a time, the
 * page's appends issued together in dead-letter order (so the embedded log commits them as one
 * batch and brokers receive them in order on one connection).
 */
export async function replayDeadLetters(
  source: DeadLetterSource,
  selection: DeadLetterSelection,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const report = options.onProgress ?? (() => undefined);
  const replayPage = async (page: readonly DeadLetter[]) =>
    (await Promise.all(page.map((deadLetter) => source.replay(deadLetter)))).map((done, index) =>
      done ? page[index]!.id : undefined,
    );
  if (selection === "all") {
    const total = await source.count();
    let replayed = 0;
    let seen = 0;
    let after: string | undefined;
    report(0, total);
    while (seen < total) {
      const page = await source.list(after, Math.min(PAGE_SIZE, total - seen));
      if (page.length === 0) break;
      replayed += (await replayPage(page)).filter((id) => id !== undefined).length;
      seen += page.length;
      after = page.at(-1)!.id;
      report(replayed, total);
    }
    return { replayed, missing: [] };
  }
  const ids = [...new Set(selection)];
  const found = await source.find(ids);
  const replayedIds = new Set<string>();
  report(0, ids.length);
  for (let start = 0; start < found.length; start += PAGE_SIZE) {
    for (const id of await replayPage(found.slice(start, start + PAGE_SIZE))) {
      if (id !== undefined) replayedIds.add(id);
    }
    report(replayedIds.size, ids.length);
  }
  return { replayed: replayedIds.size, missing: ids.filter((id) => !replayedIds.has(id)) };
}
