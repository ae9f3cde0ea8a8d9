import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TokenService } from "../../../src/platform/auth/tokens.js";
import { type ChildServer, freePort, startChildServer } from "../../support/child-server.js";
import { serverAvailable, servers } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

const SECRET = "cache-consistency-secret-0123456789abcdef";
const tokens = new TokenService(SECRET);
const admin = `Bearer ${tokens.issue({ userId: "admin", admin: true })}`;
/**
 * docs/architecture.md (Caching) says another process sees a write once the write's invalidation
 * message reached it; on one machine that takes milliseconds, and this leaves room for scheduling.
 */
const STALENESS_BOUND_MS = 1000;

async function json(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("two-level cache across two processes (PostgreSQL + Redis)", async () => {
  const up = (await serverAvailable("postgres")) && (await serverAvailable("redis"));
  let database: ScratchPostgresDatabase | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-cache-"));
  const children: ChildServer[] = [];

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill("SIGTERM")));
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  });

  it.skipIf(!up)(
    "no reader sees a value older than the last acknowledged write by more than the bound",
    async () => {
      const scratch = await createScratchPostgresDatabase();
      database = scratch;
      const env = {
        FLOODGATE_AUTH_SECRET: SECRET,
        FLOODGATE_DATABASE_URLS: scratch.url,
        FLOODGATE_CACHE_URL: servers.redis.url,
        FLOODGATE_CACHE_PREFIX: `t${randomUUID().slice(0, 8)}:`,
        FLOODGATE_LOG_LEVEL: "warn",
      };
      const [portA, portB] = [await freePort(), await freePort()];
      // Two replicas of one service: each keeps its own embedded files, so each its own data dir.
      const replica = (n: number) => ({
        ...env,
        FLOODGATE_WORKER_ID: String(n),
        FLOODGATE_DATA_DIR: join(dataDir, `r${n}`),
      });
      const a = await startChildServer(["service", "catalog"], replica(1), portA);
      children.push(a);
      const b = await startChildServer(["service", "catalog"], replica(2), portB);
      children.push(b);

      const created = await json(`${a.url}/admin/products`, {
        method: "POST",
        headers: { authorization: admin, "content-type": "application/json" },
        body: JSON.stringify({ sku: "CONSIST-1", name: "v1", priceCents: 1, currency: "EUR" }),
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;

      /** (time the write was acknowledged, version it made) */
      const acknowledged: { at: number; version: number }[] = [{ at: Date.now(), version: 1 }];
      /** (time the read started, version it saw) */
      const observed: { at: number; version: number }[] = [];
      let writing = true;

      const reader = async (url: string) => {
        while (writing) {
          const at = Date.now();
          const read = await json(`${url}/products/${id}`);
          expect(read.status).toBe(200);
          observed.push({ at, version: read.body.version as number });
        }
      };
      const readers = [reader(b.url), reader(b.url), reader(a.url)];
      for (let i = 0; i < 60; i++) {
        const put = await json(`${a.url}/admin/products/${id}`, {
          method: "PUT",
          headers: { authorization: admin, "content-type": "application/json" },
          body: JSON.stringify({ name: `v${i + 2}`, priceCents: i + 2, currency: "EUR" }),
        });
        expect(put.status).toBe(200);
        const version = put.body.version as number;
        acknowledged.push({ at: Date.now(), version });
        // The writer's own process reads its write at once.
        const own = await json(`${a.url}/products/${id}`);
        expect(own.body.version).toBeGreaterThanOrEqual(version);
        await new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 50));
      }
      writing = false;
      await Promise.all(readers);

      expect(observed.length).toBeGreaterThan(200);
      let worstLagMs = 0;
      for (const read of observed) {
        // The newest version whose write was acknowledged more than the bound before this read began.
        const mustSee = acknowledged.filter((w) => w.at + STALENESS_BOUND_MS <= read.at).at(-1)?.version ?? 1;
        expect(
          read.version,
          `read at ${read.at} saw v${read.version}, needed ≥ v${mustSee}`,
        ).toBeGreaterThanOrEqual(mustSee);
        const newerWrite = acknowledged.find((w) => w.version === read.version + 1);
        if (newerWrite && newerWrite.at < read.at) worstLagMs = Math.max(worstLagMs, read.at - newerWrite.at);
      }
      // Reported, not asserted beyond the bound: how stale the stalest read was.
      console.info(`cache consistency: ${observed.length} reads, worst staleness ${worstLagMs} ms`);
    },
  );
});
