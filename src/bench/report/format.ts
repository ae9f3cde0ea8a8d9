/** Number formatting shared by the text table and the HTML report. */
export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Latency in ms with precision that suits its size (0.412, 12.3, 1,204). */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value < 10 ? formatNumber(value, 2) : value < 100 ? formatNumber(value, 1) : formatNumber(value, 0);
}

export function formatRatio(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${formatNumber(value, value < 10 ? 2 : 1)}×`;
}

/** "202 ×2,000 · 409 ×18,000" */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([key, n]) => `${key} ×${formatNumber(n)}`).join(" · ");
}

/** CPU in cores, e.g. 0.97. */
export function formatCores(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : formatNumber(value, 2);
}

/**
 * CPU time per request in µs from req/s per core (the target's CPU, and its servers' when it
 * works through any): the figure that holds on a 2-core machine where the generator shares the
 * cores, whichever side saturated.
 */
export function formatCpuPerRequest(throughputPerCore: number | null | undefined): string {
  return throughputPerCore === null || throughputPerCore === undefined || !(throughputPerCore > 0)
    ? "–"
    : formatNumber(Math.round(1_000_000 / throughputPerCore));
}

/** A profile location as a reader wants it: from `node_modules/` on when it lives in a package. */
export function shortPath(location: string): string {
  const modules = location.indexOf("node_modules/");
  return modules > 0 ? location.slice(modules) : location;
}

/** A goal's figure in its unit: 0.35×, 18.2 ms, 12.5 %, 25 orders. */
export function formatGoalValue(value: number | null | undefined, unit: string | undefined): string {
  if (value === null || value === undefined) return "–";
  switch (unit) {
    case "ms":
      return `${formatMs(value)} ms`;
    case "percent":
      return `${formatNumber(value, 1)} %`;
    case "orders":
      return `${formatNumber(value, 0)} orders`;
    default:
      return formatRatio(value);
  }
}
