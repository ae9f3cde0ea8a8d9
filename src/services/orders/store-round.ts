import { type Blame, blameFor } from "../../platform/errors/failure-blame.js";

export interface StoreRoundPort<T> {
  /** Stores these together (confirm, insert, ack); throws, acking nothing, when that fails. */
  store(items: readonly T[]): Promise<void>;
  /**
   * Whether what `item` depends on serves other work right now (a real call for something else,
   * not the item's own): false when it fails, or when there is nothing to show it with.
   */
  dependenciesServe(item: T): Promise<boolean>;
  /**
   * Items sharing this key share their dependencies (the database): when those fail to serve
   * for one, the others are not asked again this round.
   */
  dependencyOf(item: T): unknown;
  /** False once the worker is stopping: the round ends early, and the rest stay held. */
  running(): boolean;
}

export interface StoreRoundOutcome<T> {
  /** Stored and acked. */
  readonly stored: readonly T[];
  /** Failed on their own: to be given back, which counts a delivery attempt each. */
  readonly atFault: ReadonlyArray<{ readonly item: T; readonly error: unknown }>;
  /** Why the batch as a whole failed, when it did. */
  readonly failure?: { readonly error: unknown; readonly blame: Blame };
}

/**
 * One attempt at storing what an order worker holds, and who is to blame for what failed.
 * Whatever is neither stored nor at fault stays held: a dependency is down, or nothing shows yet
 * whose fault it is. The rules, so that an outage never costs a message an attempt:
 * - The whole batch first. If it fails because of a dependency, that is the verdict for all.
 * - Otherwise each item alone (a single item's whole-batch attempt counts as that). One refused
 *   for what it carries (`message` blame) is at fault.
 * - One that fails for an unclear reason is tried once more, and is at fault only if, right after
 *   that fails too, its dependencies serve other work: they demonstrably work, so the fault is
 *   the item's. Where they do not, it stays held, and so do the other unclear failures that share
 *   them.
 */
export async function storeRound<T>(
  batch: readonly T[],
  port: StoreRoundPort<T>,
): Promise<StoreRoundOutcome<T>> {
  let failure: { error: unknown; blame: Blame };
  try {
    await port.store(batch);
    return { stored: batch, atFault: [] };
  } catch (error) {
    failure = { error, blame: blameFor(error) };
  }
  if (failure.blame === "dependency") return { stored: [], atFault: [], failure };

  const stored: T[] = [];
  const atFault: { item: T; error: unknown }[] = [];
  const unclear: T[] = [];
  if (batch.length === 1) {
    if (failure.blame === "message") atFault.push({ item: batch[0]!, error: failure.error });
    else unclear.push(batch[0]!);
  } else {
    for (const item of batch) {
      if (!port.running()) return { stored, atFault, failure };
      try {
        await port.store([item]);
        stored.push(item);
      } catch (error) {
        const blame = blameFor(error);
        if (blame === "message") atFault.push({ item, error });
        else if (blame === "unclear") unclear.push(item);
      }
    }
  }

  const notServing = new Set<unknown>();
  for (const suspect of unclear) {
    const dependency = port.dependencyOf(suspect);
    if (notServing.has(dependency) || !port.running()) continue;
    try {
      await port.store([suspect]);
      stored.push(suspect);
    } catch (error) {
      const blame = blameFor(error);
      if (blame === "message") atFault.push({ item: suspect, error });
      else if (blame === "dependency") notServing.add(dependency);
      else if (await port.dependenciesServe(suspect)) atFault.push({ item: suspect, error });
      else notServing.add(dependency);
    }
  }
  return { stored, atFault, failure };
}
