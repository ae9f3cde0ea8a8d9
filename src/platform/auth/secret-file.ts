import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The embedded mode's token secret: generated on first use and kept in the data dir (mode 0600),
 * so `floodgate token` and the running server agree without any setup. Other secrets generated
 * the same way (the payment webhook's) live beside it under their own file name.
 */
export function loadOrCreateSecret(dataDir: string, fileName = "auth-secret"): string {
  const path = join(dataDir, fileName);
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  try {
    // "wx": if another process created it first, fall through and read theirs.
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(path, "utf8").trim();
  }
}
