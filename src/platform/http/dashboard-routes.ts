import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** Where Vite writes the dashboard (`npm run build:dashboard`, also run by `npm ci`). */
export const DASHBOARD_DIST_DIR = fileURLToPath(new URL("../../../dashboard/dist/", import.meta.url));

/** The only file types the dashboard build emits; anything else in assets/ is not served. */
const ASSET_CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/**
 * Vite names every asset `<name>-<hash>.<ext>`: one path segment, no dot at the start. A name that
 * does not look like that is refused before the file system is asked anything.
 */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * A request for an asset the last listing did not have lists assets/ again, so a rebuild while the
 * server runs is served without a restart; but at most this often, so a flood of made-up names
 * costs one listing a second, not one each.
 */
const ASSET_RELIST_MS = 1000;

/**
 * The page loads only its own scripts, styles and the same-origin telemetry endpoints; a
 * dependency that tried to reach the network would be blocked (and show as a console error).
 */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

/** The 503 page is one self-contained document: nothing to load, its only style inline. */
const NOT_BUILT_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floodgate dashboard not built</title>
<link rel="icon" href="data:,"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The dashboard has not been built</h1>
<p>This server has no <code>dashboard/dist</code>. Build it from the repository root, then reload:</p>
<pre>npm run build:dashboard</pre>
<p><code>npm ci</code> and <code>npm start</code> build it for you; both need the dev dependencies (Vite).</p>
</body></html>
`;

export interface DashboardRoutesOptions {
  /** The Vite output directory: index.html and assets/. */
  readonly distDir?: string;
  /** The clock that spaces out listings of assets/ (tests pass their own). */
  readonly now?: () => number;
}

/**
 * Serves the built dashboard: `GET /dashboard` (index.html, revalidated on every load) and
 * `GET /dashboard/assets/<file>` (content-hashed, so cached for a year). Its live data comes from
 * the telemetry routes. An asset is served only when its name is one the build wrote into
 * assets/, so no request path can reach another file. Without a build the page answers 503 with
 * the command that builds it.
 */
export function registerDashboardRoutes(app: FastifyInstance, options: DashboardRoutesOptions = {}): void {
  const distDir = options.distDir ?? DASHBOARD_DIST_DIR;
  const assetsDir = join(distDir, "assets");
  const now = options.now ?? Date.now;
  let builtAssets: ReadonlySet<string> = new Set();
  let listedAt = Number.NEGATIVE_INFINITY;
  /** The listing under way, which concurrent misses share. */
  let listing: Promise<ReadonlySet<string>> | undefined;

  const isBuiltAsset = async (name: string): Promise<boolean> => {
    if (builtAssets.has(name)) return true;
    if (listing === undefined && now() - listedAt < ASSET_RELIST_MS) return false;
    listing ??= listFiles(assetsDir)
      .then((names) => {
        builtAssets = names;
        listedAt = now();
        return names;
      })
      .finally(() => {
        listing = undefined;
      });
    return (await listing).has(name);
  };

  const servePage = async (_request: unknown, reply: FastifyReply) => {
    const html = await readIfPresent(join(distDir, "index.html"));
    void reply.type("text/html; charset=utf-8");
    if (!html) {
      return reply
        .status(503)
        .headers({
          ...PAGE_HEADERS,
          "content-security-policy": NOT_BUILT_PAGE_POLICY,
          "cache-control": "no-store",
        })
        .send(NOT_BUILT_PAGE);
    }
    // Asset names change with every build, so the page must never be served stale.
    return reply.headers({ ...PAGE_HEADERS, "cache-control": "no-cache" }).send(html);
  };
  app.get("/dashboard", servePage);
  app.get("/dashboard/", servePage);

  app.get<{ Params: { file: string } }>("/dashboard/assets/:file", async (request, reply) => {
    const name = request.params.file;
    const contentType = ASSET_CONTENT_TYPES[extname(name)];
    if (!contentType || !ASSET_NAME.test(name) || !(await isBuiltAsset(name))) return reply.callNotFound();
    const body = await readIfPresent(join(assetsDir, name));
    if (!body) return reply.callNotFound();
    return reply
      .type(contentType)
      .header("cache-control", "public, max-age=31536000, immutable")
      .header("x-content-type-options", "nosniff")
      .send(body);
  });
}

async function listFiles(dir: string): Promise<ReadonlySet<string>> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name));
  } catch (error) {
    if (isMissing(error)) return new Set();
    throw error;
  }
}

/** The file's bytes, or undefined when it does not exist (not built, or removed by a rebuild). */
async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
