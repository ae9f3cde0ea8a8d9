const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

/** A count: 1,234 up to 100k, then 123.4K; short enough for a card header. */
export function formatCount(value: number): string {
  return Math.abs(value) < 100_000 ? integer.format(value) : compact.format(value);
}

/** A per-second rate: one decimal below 10 (where it matters), whole numbers above. */
export function formatRate(value: number): string {
  if (Math.abs(value) < 10) return oneDecimal.format(value);
  return formatCount(value);
}

export function formatPercent(ratio: number | null): string {
  return ratio === null ? "–" : `${oneDecimal.format(ratio * 100)} %`;
}

export function formatMilliseconds(value: number): string {
  return `${oneDecimal.format(value)} ms`;
}

const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

const clockMinutes = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

/** 14:03:07, local time. */
export function formatClock(epochMs: number): string {
  return clock.format(epochMs);
}

/** 14:03, local time. */
export function formatClockMinutes(epochMs: number): string {
  return clockMinutes.format(epochMs);
}

/** "just now", "12 s ago", "3 min ago". */
export function formatAge(ageMs: number): string {
  const seconds = Math.max(0, Math.round(ageMs / 1000));
  if (seconds < 2) return "just now";
  if (seconds < 120) return `${seconds} s ago`;
  return `${Math.round(seconds / 60)} min ago`;
}
