import { createHash } from "node:crypto";
import memjs from "memjs";
import type { Cache } from "./cache.js";
import { addIfMissing, gets, setIfUnchanged } from "./memcached-cas.js";
import {
  ConnectionErrorReporter,
  parseCacheUrl,
  type RemoteCacheOptions,
  resolveRemoteCacheOptions,
  type ServerAddress,
  wholeTtlMs,
  withDeadline,
} from "./remote-cache.js";
import {
  type CacheEntry,
  checkVersion,
  decideFill,
  decideRetire,
  decodeEntry,
  encodeEntry,
  type FillDecision,
  type FillEntry,
} from "./versioned-entry.js";

const MEMCACHED_PORT = 11_211;
/** Memcached's limit on key length, in bytes. */
const MAX_KEY_BYTES = 250;
/** Memcached reads an expiry above 30 days as a Unix time, not as seconds from now. */
const MAX_RELATIVE_EXPIRY_SECONDS = 60 * 60 * 24 * 30;
const HASHED_KEY_PREFIX = "sha1:";
/**
 * A compare-and-set retries this often when another writer changed the key between its read and
 * its write; each retry means someone else made progress, so a handful is plenty.
 */
const CAS_ATTEMPTS = 16;

/** Thrown when a compare-and-set lost every attempt to other writers of the same key. */
export class CacheContentionError extends Error {
  override readonly name = "CacheContentionError";
}

/**
 * The key sent to Memcached. Keys longer than 250 bytes, or with a space, a control character or
 * DEL, are replaced by `sha1:<hex SHA-1 of the key>` (45 bytes): Memcached rejects the first, and
 * the second break the text protocol that operators' tools (memcached-tool, mcrouter, telnet) use,
 * even though the binary protocol this adapter speaks would carry them. A key that itself starts
 * with `sha1:` is hashed too, so no stored key can stand for two cache keys.
 */
export function memcachedKey(key: string): string {
  const usableAsIs =
    Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
    !/[\u0000-\u0020\u007f]/.test(key) &&
    !key.startsWith(HASHED_KEY_PREFIX);
  return usableAsIs ? key : HASHED_KEY_PREFIX + createHash("sha1").update(key, "utf8").digest("hex");
}

/**
 * Memcached's expiry for a landing deadline (ms since the epoch): that time as a Unix time in whole
 * seconds, rounded down, so an item that lands after it is dropped on arrival (memcached expires
 * an item at its expiry second, and one already in the past at once). Never 0 ("never expires").
 * It holds as far as the client's and the server's clocks agree.
 */
export function landingExpiry(landBy: number): number {
  return Math.max(1, Math.floor(landBy / 1000));
}

/**
 * Memcached's expiry for a TTL in ms: whole seconds, rounded up. Memcached's clock ticks once a
 * second, so an entry lives between its TTL minus one second and its TTL (a 2 s entry, 1 to 2 s).
 * Past 30 days Memcached wants an absolute Unix time, which assumes client and server clocks agree.
 */
export function memcachedExpiry(ttlMs: number, nowMs = Date.now()): number {
  const seconds = Math.ceil(wholeTtlMs(ttlMs) / 1000);
  return seconds <= MAX_RELATIVE_EXPIRY_SECONDS ? seconds : Math.floor(nowMs / 1000) + seconds;
}

/**
 * Memcached behind the Cache port, for `memcached://[user:password@]host[:port][,host[:port]…]`
 * (SASL when a user and password are given), over memjs and its binary protocol. Values are
 * stored as UTF-8 bytes and read back as strings.
 *
 * Keys are spread over the servers by memjs's hash modulo the server count, so adding a server
 * moves most keys (a burst of misses, nothing wrong). A server that is down is not skipped
 * (memjs `failover` off): its share of the keys fails fast until it is back, rather than moving
 * to another server where it would outlive an invalidation sent while the first was away.
 *
 * Fail fast: one attempt per call (`retries: 1`) and a deadline of `commandTimeoutMs` per call,
 * enforced by the adapter because memjs can leave a request pending forever when a socket closes
 * under it without an error (memjs's own request timeout is a backstop at twice that). A call
 * that fails replaces its server's connection (see MemcachedCache.replaceAfterFailure), and the
 * next call connects again: there is no reconnect loop to configure.
 */
export async function openMemcachedCache(
  url: string,
  options: RemoteCacheOptions = {},
): Promise<MemcachedCache> {
  const settings = resolveRemoteCacheOptions(options);
  const parsed = parseCacheUrl(url, MEMCACHED_PORT);
  if (parsed.scheme !== "memcached") throw new Error(`cache URL ${parsed.redacted}: expected memcached://`);
  if (parsed.path !== "" && parsed.path !== "/") {
    throw new Error(`cache URL ${parsed.redacted}: memcached:// takes no path`);
  }
  const reporter = new ConnectionErrorReporter("memcached", settings.onError);
  const connectTo = (address: ServerAddress) =>
    // Note: memjs falls back to the MEMCACHIER_/MEMCACHE_USERNAME and _PASSWORD environment
    // variables when no user is given here.
    new memjs.Server(address.host, address.port, parsed.username, parsed.password, {
      // A backstop only: the adapter's own deadline (commandTimeoutMs) fires first, and then
      // replaces the connection cleanly (see MemcachedCache.replaceAfterFailure).
      timeout: (2 * settings.commandTimeoutMs) / 1000,
      conntimeout: settings.connectTimeoutMs / 1000,
      keepAlive: true,
    });
  // memjs reads this array on every call, so the cache can swap a failed server's object in place.
  const servers = parsed.servers.map(connectTo);
  const client = new memjs.Client<string, Buffer | null>(servers, {
    retries: 1,
    failover: false,
    // memjs reports failures through this logger (console by default); they are connection
    // errors for our purposes, and go where the caller wants them, throttled.
    logger: {
      log: (...parts: unknown[]) => {
        const message = parts.map(String).join(" ");
        reporter.report(/<([^>]+)>/.exec(message)?.[1] ?? "client", new Error(message));
      },
    },
  });
  try {
    await withDeadline(allServersAnswer(client), settings.connectTimeoutMs, () => "STATS on every server");
  } catch (error) {
    client.close();
    throw new Error(`cannot connect to the cache at ${parsed.redacted}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return new MemcachedCache(client, servers, parsed.servers, connectTo, settings.commandTimeoutMs);
}

/** memjs connects lazily; STATS goes to every server, so opening fails now when one is missing. */
function allServersAnswer(client: memjs.Client<string, Buffer | null>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let waitingFor = client.servers.length;
    client.stats((error, server) => {
      if (error) {
        reject(new Error(`${server}: ${error.message}`));
        return;
      }
      waitingFor -= 1;
      if (waitingFor === 0) resolve();
    });
  });
}

/**
 * Build it with `openMemcachedCache`, which also explains the failure behaviour. Versioned fills
 * and retirements are compare-and-sets (`gets`, then `cas` or `add`), so they are atomic per key
 * like Redis's scripts, at the price of two round trips.
 */
export class MemcachedCache implements Cache {
  /** Calls not yet settled; `close` lets them finish (each is bounded by its deadline). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  /**
   * @param servers the array the memjs client reads its servers from, mutated in place
   * @param addresses where each of `servers` connects, by index
   * @param connectTo makes a fresh memjs.Server for an address
   */
  constructor(
    private readonly client: memjs.Client<string, Buffer | null>,
    private readonly servers: memjs.Server[],
    private readonly addresses: readonly ServerAddress[],
    private readonly connectTo: (address: ServerAddress) => memjs.Server,
    private readonly commandTimeoutMs: number,
  ) {}

  async get(key: string): Promise<string | undefined> {
    const storedKey = memcachedKey(key);
    const { value } = await this.bounded("get", storedKey, () => this.client.get(storedKey));
    return value === null ? undefined : value.toString("utf8");
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const expires = memcachedExpiry(ttlMs);
    const storedKey = memcachedKey(key);
    await this.bounded("set", storedKey, () => this.client.set(storedKey, value, { expires }));
  }

  async delete(key: string): Promise<void> {
    const storedKey = memcachedKey(key);
    // Resolves false when the key was not there: deleting a missing key is not an error.
    await this.bounded("delete", storedKey, () => this.client.delete(storedKey));
  }

  async readEntry(key: string): Promise<CacheEntry | undefined> {
    const stored = await this.get(key);
    return stored === undefined ? undefined : decodeEntry(stored);
  }

  /**
   * Memcached cannot refuse a write by the time it arrives, but it drops an item whose absolute
   * expiry has passed when it lands. So a fill with a landing deadline that finds the key empty
   * is written in two steps: ADD with the deadline as its (absolute, whole-second, rounded down)
   * expiry, dead on arrival if it lands late; then, by CAS on the item that made, its whole TTL.
   * When the second step finds the item gone or changed (it landed late, or a retirement replaced
   * it), the fill resolves false: not stored, or not for long.
   *
   * A fill that replaces an entry (CAS) gets its whole TTL at once, whenever it lands: a late one
   * made dead on arrival would leave the key empty, and the lower retirement it replaced would no
   * longer stop the older fills still on their way. It needs no deadline: the CAS lands only on the
   * item `gets` saw, so no retirement can have landed, or expired, in between. Only an empty key
   * (where an expired retirement was) lets a late fill in, and there ADD is dead on arrival.
   */
  async fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean> {
    const encoded = encodeEntry(entry);
    const decide = (current: CacheEntry | undefined) => decideFill(current, entry.version);
    const expires = memcachedExpiry(ttlMs);
    const ifMissing = landBy === undefined ? expires : landingExpiry(landBy);
    const { decision, added } = await this.compareAndSet("fill", key, expires, encoded, decide, ifMissing);
    if (decision === "newer") return false;
    if (added === null || landBy === undefined) return true;
    const storedKey = memcachedKey(key);
    const extended = await this.bounded("fill (extend)", storedKey, () =>
      setIfUnchanged(this.client, storedKey, encoded, expires, added),
    );
    return extended !== null;
  }

  async retire(key: string, version: number, ttlMs: number): Promise<void> {
    checkVersion(version);
    const encoded = encodeEntry({ kind: "retired", version });
    await this.compareAndSet("retire", key, memcachedExpiry(ttlMs), encoded, (current) =>
      decideRetire(current, version),
    );
  }

  /** Lets calls in flight settle, then ends the sockets. Later calls reject. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inFlight]);
      this.client.close();
    })();
    return this.closing;
  }

  /**
   * Reads the key with its CAS value, asks `decide`, and writes `encoded` only if the key has not
   * changed since (CAS; ADD, with expiry `expiresIfMissing`, when it was missing). When it changed,
   * reads and decides again. `added`: the CAS value of the item an ADD made, else null.
   */
  private async compareAndSet(
    operation: string,
    key: string,
    expires: number,
    encoded: string,
    decide: (current: CacheEntry | undefined) => FillDecision,
    expiresIfMissing = expires,
  ): Promise<{ decision: FillDecision; added: Buffer | null }> {
    const storedKey = memcachedKey(key);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const item = await this.bounded(`${operation} (gets)`, storedKey, () => gets(this.client, storedKey));
      const decision = decide(item.value === null ? undefined : decodeEntry(item.value.toString("utf8")));
      if (decision !== "store") return { decision, added: null };
      const cas = item.cas;
      const written = await this.bounded(operation, storedKey, () =>
        cas === null
          ? addIfMissing(this.client, storedKey, encoded, expiresIfMissing)
          : setIfUnchanged(this.client, storedKey, encoded, expires, cas),
      );
      if (written) return { decision, added: cas === null ? written : null };
    }
    throw new CacheContentionError(
      `memcached cache ${operation}: the key kept changing (${CAS_ATTEMPTS} attempts)`,
    );
  }

  private bounded<T>(operation: string, storedKey: string, call: () => Promise<T>): Promise<T> {
    // Without this memjs would quietly open a new connection after close.
    if (this.closing) return Promise.reject(new Error(`memcached cache ${operation}: the cache is closed`));
    const server = this.client.server(storedKey);
    const settled = withDeadline(call(), this.commandTimeoutMs, () => `memcached cache ${operation}`);
    this.inFlight.add(settled);
    settled.then(
      () => this.inFlight.delete(settled),
      (error: unknown) => {
        this.inFlight.delete(settled);
        if (server && !isServerReply(error)) this.replaceAfterFailure(server);
      },
    );
    return settled;
  }

  /**
   * Swaps a server whose call failed (timeout, refused, reset) for a fresh memjs.Server on the
   * same address, and destroys the old one's socket. memjs keeps one response buffer per server,
   * shared by its successive sockets: after a timeout it half-closes the old socket, whose late
   * replies then land in that buffer and can corrupt the parsing of the new socket's replies, so
   * a call made after the server recovered would hang (until the deadline). A fresh object has a
   * clean buffer; the old one's late replies go nowhere. Only the first failure of an object swaps
   * it; calls still in flight on it fail at once, as they would have on memjs's own timeout.
   */
  private replaceAfterFailure(failed: memjs.Server): void {
    const index = this.servers.indexOf(failed);
    if (index === -1 || this.closing) return;
    this.servers[index] = this.connectTo(this.addresses[index]!);
    failed.error(new Error("connection replaced after a failed call"));
  }
}

/** memjs errors built from a server's reply (e.g. "MemJS SET: Value too large"): the connection is fine. */
function isServerReply(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("MemJS ");
}
