import { open, rename, unlink } from "node:fs/promises";

/**
 * Makes directory entries (a created segment, a renamed offset file) durable. fsync on a file
 * covers its contents, not the name pointing at it; without this a crash can lose a whole new
 * segment even though every record in it was fdatasync'ed.
 */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically: readers (and a process restarted after a crash) see either the old
 * contents or the new ones, never a mix or an empty file. The temporary file is fsync'ed before
 * the rename because some filesystems may otherwise persist the rename before the data.
 */
export async function replaceFileAtomically(path: string, contents: string): Promise<void> {
  const temporaryPath = `${path}.tmp`;
  const handle = await open(temporaryPath, "w");
  try {
    await handle.writeFile(contents);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporaryPath, path);
  } catch (error) {
    await unlink(temporaryPath).catch(() => undefined);
    throw error;
  }
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && "code" in error;
}
