import type { Settings } from "./scenario.js";
import type { HeldSpan, SimulatedServer } from "./simulated-redis.js";
import type { Outcome, ReadRecord, WriteRecord } from "./world.js";

/**
 * The bound docs/architecture.md ("Caching") states, checked on every read. A read that begins at
 * `b` in process P returns the version of every write W of its key, or a newer one, when any of
 * these holds (otherwise it may return an older one):
 *
 * 1. P made W, and W's invalidate had returned before `b` (a writer reads its own write);
 * 2. P had received an invalidation message for W's key at W's version or above before `b`;
 * 3. W's version or above (its retirement, or a newer entry) landed in L2 more than the L1 TTL
 *    (with jitter: `l1MaxMs`, 7.5 s in production) before `b`, and no restore or eviction has
 *    lost it since;
 * 4. `b` is more than the entry TTL (with jitter: `ttlMaxMs`, 66 s) after W committed — whatever happened:
 *    messages lost, L2 restored from a snapshot, keys evicted, retirements that never landed.
 *
 * Each rule is a strict "after" (1 ms): events at the same virtual instant have no order a real
 * system would promise.
 */
/** The longest an L1 copy lives (the L1 TTL and its 50 % jitter): 7.5 s in production. */
export const l1MaxMs = (settings: Settings) => settings.l1TtlMs * 1.5;
/** The longest an entry lives (the TTL and its 10 % jitter): 66 s in production. */
export const ttlMaxMs = (settings: Settings) => settings.ttlMs * 1.1;

/** What the checked reads covered, for the explorer's report. */
export interface Coverage {
  reads: number;
  /** Reads that returned an older version than was committed when they began (allowed then). */
  staleAllowed: number;
  /** Reads a rule bound to a write newer than their own first-committed version, by rule. */
  boundBy: Record<string, number>;
}

export function emptyCoverage(): Coverage {
  return { reads: 0, staleAllowed: 0, boundBy: {} };
}

export function checkBound(outcome: Outcome, coverage: Coverage = emptyCoverage()): string[] {
  const problems: string[] = [];
  const { writes, reads, server } = outcome;
  for (const read of reads) {
    if (read.error !== undefined) {
      problems.push(`read ${describeRead(read)} failed: ${String(read.error)}`);
      continue;
    }
    if (read.version === undefined) {
      problems.push(`read ${describeRead(read)} never finished`);
      continue;
    }
    coverage.reads += 1;
    const committedAtBegin = Math.max(
      0,
      ...writes.filter((w) => w.key === read.key && w.committedAt < read.begunAt).map((w) => w.version),
    );
    if (read.version < committedAtBegin) coverage.staleAllowed += 1;
    const newest = Math.max(
      0,
      ...writes.filter((w) => w.key === read.key && w.committedAt <= read.endedAt!).map((w) => w.version),
    );
    if (read.version > newest)
      problems.push(`read ${describeRead(read)} saw v${read.version}, never committed by then`);
    for (const write of writes) {
      if (write.key !== read.key) continue;
      const rule = ruleRequiring(write, read, server, outcome.scenario.settings);
      if (rule) {
        const name = rule.slice(0, "rule n".length);
        coverage.boundBy[name] = (coverage.boundBy[name] ?? 0) + 1;
      }
      if (write.version <= read.version) continue;
      if (rule) {
        problems.push(
          `read ${describeRead(read)} saw v${read.version}, but must see v${write.version} ` +
            `(written by p${write.process}, committed at ${write.committedAt}, acknowledged at ${write.ackedAt}): ${rule}`,
        );
      }
    }
  }
  if (server) problems.push(...checkRetiredThenPublished(outcome, server));
  return problems;
}

function ruleRequiring(
  write: WriteRecord,
  read: ReadRecord,
  server: SimulatedServer | undefined,
  settings: Settings,
): string | undefined {
  const b = read.begunAt;
  if (write.process === read.process && write.ackedAt !== undefined && write.ackedAt < b) {
    return "rule 1 (the writing process, after the write was acknowledged)";
  }
  if (server) {
    const heard = server.deliveries.find(
      (d) =>
        d.process === read.process &&
        d.retirement.key === write.key &&
        d.retirement.version >= write.version &&
        d.at < b,
    );
    if (heard) return `rule 2 (its process got the invalidation at ${heard.at})`;
    const landed = landedSince(server.held.get(write.key) ?? [], write.version, b);
    if (landed !== undefined && landed < b - l1MaxMs(settings)) {
      return `rule 3 (v${write.version} or newer landed in L2 at ${landed}, and no restore or eviction lost it since)`;
    }
  }
  if (b > write.committedAt + ttlMaxMs(settings)) return "rule 4 (a whole entry TTL after the commit)";
  return undefined;
}

/**
 * When L2 last came to hold `version` or above (by a fill or a retirement) with no loss since —
 * a restore or an eviction that left it below — as of `at`; undefined when it does not hold it.
 * Only losses count against it: an entry replaced by the cache's own writes, or expired, is the
 * code's doing, which is what is under test.
 */
export function landedSince(spans: readonly HeldSpan[], version: number, at: number): number | undefined {
  let landed: number | undefined;
  for (const span of spans) {
    if (span.from > at) break;
    if (span.cause === "loss") {
      if (span.version < version) landed = undefined;
    } else if (span.version >= version && landed === undefined) {
      landed = span.from;
    }
  }
  return landed;
}

/**
 * Issue 16, defect 6: every retirement that landed in L2 (and whose caller heard so) is followed
 * by a publish of it from the same process, retried ones included.
 */
function checkRetiredThenPublished(outcome: Outcome, server: SimulatedServer): string[] {
  if (outcome.scenario.mode !== "redis") return [];
  const problems: string[] = [];
  for (const call of server.retireCalls) {
    if (!call.answered) continue;
    const published = server.publishes.some(
      (p) =>
        p.process === call.process &&
        p.at >= call.appliedAt &&
        p.retirements.some((r) => r.key === call.retirement.key && r.version >= call.retirement.version),
    );
    if (!published) {
      problems.push(
        `p${call.process}'s retirement of ${call.retirement.key} v${call.retirement.version} landed at ${call.appliedAt} and was never published after`,
      );
    }
  }
  return problems;
}

function describeRead(read: ReadRecord): string {
  return `of ${read.key} in p${read.process} begun at ${read.begunAt}`;
}
