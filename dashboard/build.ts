/**
 * Builds the dashboard into dashboard/dist with Vite.
 *
 *   tsx dashboard/build.ts              always build (npm ci runs this as `prepare`)
 *   tsx dashboard/build.ts --if-stale   build only when dist is missing or older than a source
 *                                       (npm start, and the end-to-end test, run this)
 *
 * Vite is a dev dependency: an install without it (npm ci --omit=dev) skips the build with a
 * warning instead of failing, and the server then answers /dashboard with how to build it.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const dashboardDir = fileURLToPath(new URL(".", import.meta.url));
const builtPage = join(dashboardDir, "dist", "index.html");
const sources = [
  join(dashboardDir, "index.html"),
  join(dashboardDir, "vite.config.ts"),
  join(dashboardDir, "src"),
];

function newestModification(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((entry) => newestModification(join(path, entry))));
}

function isStale(): boolean {
  if (!existsSync(builtPage)) return true;
  const builtAt = statSync(builtPage).mtimeMs;
  return sources.some((source) => newestModification(source) > builtAt);
}

async function loadVite() {
  try {
    return await import("vite");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

async function main(): Promise<void> {
  const onlyIfStale = process.argv.includes("--if-stale");
  if (onlyIfStale && !isStale()) return;
  const vite = await loadVite();
  if (!vite) {
    process.stderr.write(
      "dashboard: not built, Vite (a dev dependency) is not installed; /dashboard will say how to build it\n",
    );
    return;
  }
  const started = performance.now();
  await vite.build({ configFile: join(dashboardDir, "vite.config.ts"), logLevel: "warn" });
  const where = relative(process.cwd(), join(dashboardDir, "dist")) || ".";
  process.stderr.write(`dashboard: built into ${where} in ${Math.round(performance.now() - started)} ms\n`);
}

await main();
