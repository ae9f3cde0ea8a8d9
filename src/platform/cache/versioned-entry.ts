/**
 * What a cache level holds under a key when fills are tied to versions: a value at the version
 * the loader read, a "the source has nothing" marker at a version, or a retirement a writer left
 * ("versions below this are gone"). One ordering decides every level — the in-process L1, the
 * in-process and Memcached adapters here, and Redis in `cache-fill-1.lua` / `cache-retire-1.lua`,
 * which mirror the two functions below:
 *
 * - a fill stores its entry unless the key holds a higher version (of any kind);
 * - a retirement at version v replaces whatever holds a lower version, and leaves an entry at v or
 *   above alone (a fill of the committed value that landed first, or a later write's retirement).
 *
 * So a fill that read the source before a write loses to the write's retirement however late it
 * lands, and a retirement that arrives late never removes a newer value.
 *
 * Versions are the source's (catalog: `products.version`), non-negative safe integers; 0 is "never
 * existed". Sources that delete must give the deletion a version, or a late fill of the deleted
 * row would win against nothing.
 *
 * Values and absent markers also carry `expiresAt`: the time (ms, the filling process's clock)
 * after which no reader may hand them out — the TTL counted from the start of the read that
 * loaded them. The server's own TTL only reclaims the space: it starts when the write reaches
 * the server, which may be late, and a snapshot restored later brings entries back with it.
 */
export type CacheEntry =
  | { readonly kind: "value"; readonly version: number; readonly expiresAt: number; readonly value: string }
  | { readonly kind: "absent"; readonly version: number; readonly expiresAt: number }
  | { readonly kind: "retired"; readonly version: number };

/** What a fill may store: a value, or the source's "nothing here". */
export type FillEntry = Exclude<CacheEntry, { kind: "retired" }>;

/**
 * Stored form: a header the Lua scripts can match with `^\1([VAR])(%d+)|` — mark, kind, version —
 * then, for values and absent markers, `<expiresAt>|` and the value. The leading \u0001 keeps a
 * header from ever being mistaken for a value written without one (an older release's plain
 * JSON), which decodes as "no entry" and is overwritten by the next fill.
 */
const MARK = "\u0001";
const KIND_LETTER = { value: "V", absent: "A", retired: "R" } as const;
// biome-ignore lint/suspicious/noControlCharactersInRegex: \u0001 is the header's mark (see above).
const HEADER = /^\u0001(?:R(\d{1,16})\||([VA])(\d{1,16})\|(\d{1,16})\|)/;

export function encodeEntry(entry: CacheEntry): string {
  checkVersion(entry.version);
  const header = `${MARK}${KIND_LETTER[entry.kind]}${entry.version}|`;
  if (entry.kind === "retired") return header;
  if (!Number.isSafeInteger(entry.expiresAt) || entry.expiresAt < 0) {
    throw new RangeError(`cache entry expiresAt must be a non-negative safe integer, got ${entry.expiresAt}`);
  }
  const dated = `${header}${entry.expiresAt}|`;
  return entry.kind === "value" ? dated + entry.value : dated;
}

/** The entry in a stored string; undefined when it is not one (it then counts as no entry). */
export function decodeEntry(stored: string): CacheEntry | undefined {
  const match = HEADER.exec(stored);
  if (!match) return undefined;
  if (match[1] !== undefined) {
    const version = Number(match[1]);
    return Number.isSafeInteger(version) ? { kind: "retired", version } : undefined;
  }
  const version = Number(match[3]);
  const expiresAt = Number(match[4]);
  if (!Number.isSafeInteger(version) || !Number.isSafeInteger(expiresAt)) return undefined;
  return match[2] === "V"
    ? { kind: "value", version, expiresAt, value: stored.slice(match[0].length) }
    : { kind: "absent", version, expiresAt };
}

/** "store": write it; "current": the key already holds this version; "newer": a higher one. */
export type FillDecision = "store" | "current" | "newer";

export function decideFill(current: CacheEntry | undefined, version: number): FillDecision {
  if (current === undefined) return "store";
  if (current.version > version) return "newer";
  if (current.version === version && current.kind !== "retired") return "current";
  return "store";
}

/** "store": write the retirement; "current": the key holds this version already; "newer": a higher one. */
export function decideRetire(current: CacheEntry | undefined, version: number): FillDecision {
  if (current === undefined || current.version < version) return "store";
  return current.version === version ? "current" : "newer";
}

export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new RangeError(`cache entry version must be a non-negative safe integer, got ${version}`);
  }
}
