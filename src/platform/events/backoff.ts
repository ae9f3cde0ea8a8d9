/**
 * Exponential backoff with full jitter: a random delay in [0, min(cap, base·2^(attempt-1))], so
 * many consumers failing together do not retry together ("thundering herd").
 */
export function backoffWithJitter(
  attempt: number,
  baseMs: number,
  capMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}
