import { randomUUID } from "node:crypto";
import {
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { type AcquiredWorkerId, WORKER_ID_COUNT, type WorkerIdLeases } from "./worker-id-leases.js";

const LEASE_FILE = /^worker-(\d+)\.(\d+)\.lease$/;

/**
 * Worker-id leases as files in a directory every process on the host shares (`<dataDir>/ids/`),
 * for embedded mode, where there is no server to lease from.
 *
 * A lease is the file `worker-<id>.<generation>.lease`: it names its holder, and its mtime is the
 * time it expires (renewing moves the mtime forward). The newest generation of an id is its
 * current lease. Taking an id creates the next generation with link(), which fails when the file
 * exists, so of several processes taking over the same expired lease exactly one wins; nobody
 * ever moves or deletes a lease that may be live (only generations older than the one just won).
 *
 * Process ids play no part: in containers every process is pid 1, and a pid from another
 * container's namespace says nothing here. (This is why the embedded queue's pid lock file is not
 * reused.) Expiry is judged by this host's clock, so the directory must not be shared between
 * hosts.
 */
export class FileWorkerIdLeases implements WorkerIdLeases {
  readonly where: string;

  constructor(private readonly directory: string) {
    this.where = `the data dir (${directory})`;
  }

  async acquire(holder: string, ttlMs: number): Promise<AcquiredWorkerId | undefined> {
    await mkdir(this.directory, { recursive: true });
    const newest = newestGenerations(await readdir(this.directory));
    for (let workerId = 0; workerId < WORKER_ID_COUNT; workerId++) {
      const generation = newest.get(workerId);
      if (generation !== undefined) {
        const expiresAt = await this.expiryOf(this.leasePath(workerId, generation));
        // Gone: a newer generation replaced it since the directory was read, so the id is taken.
        if (expiresAt === undefined || expiresAt > Date.now()) continue;
      }
      const next = (generation ?? -1) + 1;
      if (await this.createLease(workerId, next, holder, ttlMs)) {
        await this.removeGenerationsBefore(workerId, next);
        return { workerId, previousMintedUntilMs: await this.readMintedUntil(workerId) };
      }
    }
    return undefined;
  }

  async renew(workerId: number, holder: string, ttlMs: number, mintedUntilMs: number): Promise<boolean> {
    const lease = await this.openOwnLease(workerId, holder);
    if (!lease) return false;
    try {
      await lease.file.utimes(new Date(), new Date(Date.now() + ttlMs));
      // Another process takes a lease over only after seeing it expired. If the new expiry was
      // written before the old one passed, no one can have seen it expired; if not, someone may
      // have, and this lease must be given up rather than trusted.
      if (Date.now() >= lease.expiresAt) return false;
    } finally {
      await lease.file.close();
    }
    await this.writeMintedUntil(workerId, mintedUntilMs);
    return true;
  }

  async release(workerId: number, holder: string, mintedUntilMs: number): Promise<void> {
    const lease = await this.openOwnLease(workerId, holder);
    if (!lease) return;
    try {
      // Past (or about to pass) its expiry, another process may hold the id and write its own bound.
      if (lease.expiresAt - Date.now() < RELEASE_MARGIN_MS) return;
      await this.writeMintedUntil(workerId, mintedUntilMs);
      // Expired now: the next process takes the id at once. The file stays, so generations only grow.
      await lease.file.utimes(new Date(), new Date(0));
    } finally {
      await lease.file.close();
    }
  }

  async close(): Promise<void> {
    // Nothing stays open between calls.
  }

  private leasePath(workerId: number, generation: number): string {
    return join(this.directory, `worker-${workerId}.${generation}.lease`);
  }

  private mintedUntilPath(workerId: number): string {
    return join(this.directory, `worker-${workerId}.minted-until`);
  }

  /** Writes the holder into a private file with its expiry, then links it into place (exclusive). */
  private async createLease(
    workerId: number,
    generation: number,
    holder: string,
    ttlMs: number,
  ): Promise<boolean> {
    const candidate = join(this.directory, `worker-${workerId}.${randomUUID()}.candidate`);
    await writeFile(candidate, `${holder}\n`);
    try {
      await utimes(candidate, new Date(), new Date(Date.now() + ttlMs));
      await link(candidate, this.leasePath(workerId, generation));
      return true;
    } catch (error) {
      if (errorCode(error) === "EEXIST") return false;
      throw error;
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
  }

  /**
   * The newest generation of this id, opened, if it still names `holder`. One file handle for the
   * check and the renewal, so both are about the same file.
   */
  private async openOwnLease(workerId: number, holder: string) {
    const newest = newestGenerations(await readdir(this.directory)).get(workerId);
    if (newest === undefined) return undefined;
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(this.leasePath(workerId, newest), "r");
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw error;
    }
    try {
      const [content, stats] = [await file.readFile("utf8"), await file.stat()];
      if (content.trim() !== holder) {
        await file.close();
        return undefined;
      }
      return { file, expiresAt: stats.mtimeMs };
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  private async expiryOf(path: string): Promise<number | undefined> {
    try {
      return (await stat(path)).mtimeMs;
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Older generations were superseded after they expired: nobody holds them. */
  private async removeGenerationsBefore(workerId: number, generation: number): Promise<void> {
    for (const entry of await readdir(this.directory)) {
      const match = LEASE_FILE.exec(entry);
      if (match && Number(match[1]) === workerId && Number(match[2]) < generation) {
        await unlink(join(this.directory, entry)).catch(() => undefined);
      }
    }
  }

  private async readMintedUntil(workerId: number): Promise<number | undefined> {
    try {
      const value = Number((await readFile(this.mintedUntilPath(workerId), "utf8")).trim());
      return Number.isFinite(value) ? value : undefined;
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Replaced whole (write, then rename), so a reader never sees half a number. */
  private async writeMintedUntil(workerId: number, mintedUntilMs: number): Promise<void> {
    const path = this.mintedUntilPath(workerId);
    const temporary = `${path}.${randomUUID()}.tmp`;
    await writeFile(temporary, `${Math.ceil(mintedUntilMs)}\n`);
    await rename(temporary, path);
  }
}

/** A release this close to the lease's expiry is skipped: the lease runs out by itself instead. */
const RELEASE_MARGIN_MS = 1000;

/** The highest generation of each id's lease files in a directory listing. */
function newestGenerations(entries: readonly string[]): Map<number, number> {
  const newest = new Map<number, number>();
  for (const entry of entries) {
    const match = LEASE_FILE.exec(entry);
    if (!match) continue;
    const workerId = Number(match[1]);
    const generation = Number(match[2]);
    if (generation > (newest.get(workerId) ?? -1)) newest.set(workerId, generation);
  }
  return newest;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
