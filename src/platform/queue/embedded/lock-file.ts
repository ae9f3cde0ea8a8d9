import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isErrnoException } from "./durable-files.js";

export interface DirectoryLock {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Locks this process holds. A LOCK naming our own pid that is not in here was left by an earlier
 * process that had the same pid: the usual case in a container, where the app restarts as pid 1.
 */
const heldByThisProcess = new Set<string>();

function isHeld(holder: number | undefined, lockPath: string): holder is number {
  if (holder === undefined) {
    return false;
  }
  return holder === process.pid ? heldByThisProcess.has(lockPath) : isProcessAlive(holder);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return isErrnoException(error) && error.code === "EPERM";
  }
}

async function readLockHolder(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(lockPath, "utf8")).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if (isErrnoException(error) && error.code === "ENOENT") {
      return undefined;
    }
    throw error;
  }
}

/**
 * Takes `<directory>/LOCK` so two processes never append to the same log. The pid is written to a
 * private file first and then hard-linked into place: link() fails if LOCK exists (exclusive
 * create) and, unlike open(O_EXCL) followed by write, never exposes a LOCK without its pid.
 * A LOCK whose pid is no longer alive was left by a crash and is taken over.
 */
export async function acquireDirectoryLock(directory: string): Promise<DirectoryLock> {
  const lockPath = join(directory, "LOCK");
  const uniqueSuffix = `${process.pid}.${Math.random().toString(36).slice(2)}`;
  const candidatePath = join(directory, `LOCK.${uniqueSuffix}`);
  await writeFile(candidatePath, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await link(candidatePath, lockPath);
        heldByThisProcess.add(lockPath);
        return {
          path: lockPath,
          release: async () => {
            heldByThisProcess.delete(lockPath);
            await unlink(lockPath).catch(() => undefined);
          },
        };
      } catch (error) {
        if (!isErrnoException(error) || error.code !== "EEXIST") {
          throw error;
        }
      }
      const holder = await readLockHolder(lockPath);
      if (isHeld(holder, lockPath)) {
        throw lockedError(directory, lockPath, holder);
      }
      if (attempt >= 3) {
        throw new Error(`Could not take over the stale lock ${lockPath}; other processes keep replacing it`);
      }
      await breakStaleLock(directory, lockPath, holder, uniqueSuffix);
    }
  } finally {
    await unlink(candidatePath).catch(() => undefined);
  }
}

/** The directory is open in another live process (or already in this one). */
export class DirectoryLockedError extends Error {
  override readonly name = "DirectoryLockedError";

  constructor(
    readonly directory: string,
    readonly lockPath: string,
    /** The pid the lock file names. */
    readonly holder: number,
  ) {
    const who =
      holder === process.pid ? `this process (pid ${holder}), which already has it open` : `pid ${holder}`;
    // Not "use another FLOODGATE_DATA_DIR": that gives this process a queue of its own, which is
    // how split intake and worker processes once lost every order they accepted.
    super(
      `The embedded queue at ${directory} is locked by ${who} (${lockPath}); two processes cannot share it. ` +
        "Stop that process. To run several processes of one service (orders intakes and workers, say), " +
        "give them a queue server they share with FLOODGATE_QUEUE_URL (nats:// or redis://) and a shared " +
        "database with FLOODGATE_DATABASE_URLS: another FLOODGATE_DATA_DIR would give this process a queue " +
        "of its own that no other process reads.",
    );
  }
}

function lockedError(directory: string, lockPath: string, holder: number): Error {
  return new DirectoryLockedError(directory, lockPath, holder);
}

/**
 * Removes a LOCK left by a dead process. It is renamed away rather than unlinked so that, when
 * another process replaced the stale lock between our read and now, we notice (the moved file
 * holds a live pid), put it back and report the lock as held instead of stealing it.
 */
async function breakStaleLock(
  directory: string,
  lockPath: string,
  staleHolder: number | undefined,
  uniqueSuffix: string,
): Promise<void> {
  const movedPath = join(directory, `LOCK.stale.${uniqueSuffix}`);
  try {
    await rename(lockPath, movedPath);
  } catch (error) {
    if (isErrnoException(error) && error.code === "ENOENT") {
      return;
    }
    throw error;
  }
  const movedHolder = await readLockHolder(movedPath);
  if (movedHolder !== staleHolder && isHeld(movedHolder, lockPath)) {
    await link(movedPath, lockPath).catch(() => undefined);
    await unlink(movedPath).catch(() => undefined);
    throw lockedError(directory, lockPath, movedHolder);
  }
  await unlink(movedPath);
}
