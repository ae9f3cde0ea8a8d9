import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "../platform/config/load-config.js";
import { BenchOptionError } from "./options.js";

/**
 * The secret of a target the bench starts itself. Fixed, so the bench can sign buyers' tokens;
 * the target listens on 127.0.0.1 only and lives for one run, so it protects nothing.
 */
export const BENCH_AUTH_SECRET = "floodgate-bench-local-only-secret-0123456789";

/**
 * The secret of an already-running server (--url), found the way `floodgate token` finds it:
 * FLOODGATE_AUTH_SECRET, else the data dir's generated secret. Read only: creating a new secret
 * here would sign tokens the server rejects.
 */
export function runningServerSecret(): string {
  const config = loadConfig();
  if (config.authSecret) return config.authSecret;
  const path = join(resolve(config.dataDir), "auth-secret");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  throw new BenchOptionError(
    `--url: cannot sign tokens for that server: set FLOODGATE_AUTH_SECRET to its secret, or FLOODGATE_DATA_DIR to its data dir (no ${path})`,
  );
}
