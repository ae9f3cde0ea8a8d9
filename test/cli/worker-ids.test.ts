import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { TokenService } from "../../src/platform/auth/tokens.js";
import { FileWorkerIdLeases } from "../../src/platform/ids/file-worker-id-leases.js";
import { parseSnowflake } from "../../src/platform/ids/snowflake.js";
import { type ChildServer, freePort, startChildServer } from "../support/child-server.js";
import { serverAvailable } from "../support/infra.js";
import { createScratchPostgresDatabase } from "../support/scratch-postgres.js";

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));
const SECRET = "worker-id-test-secret-at-least-32-characters";
const ADMIN = `Bearer ${new TokenService(SECRET).issue({ userId: "ops", admin: true })}`;

/** The worker id and lease store a child logged at start ("leased a snowflake worker id"). */
function leasedWorkerId(child: ChildServer): { workerId: number; where: string } {
  for (const line of child.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; workerId?: number; where?: string };
    if (entry.msg === "leased a snowflake worker id")
      return { workerId: entry.workerId!, where: entry.where! };
  }
  throw new Error(`no worker-id lease in the child's log:\n${child.output()}`);
}

async function createProduct(child: ChildServer, sku: string): Promise<string> {
  const response = await fetch(`${child.url}/admin/products`, {
    method: "POST",
    headers: { authorization: ADMIN, "content-type": "application/json" },
    body: JSON.stringify({ sku, name: sku, priceCents: 100, currency: "EUR" }),
  });
  const body = (await response.json()) as { id: string };
  expect(response.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

describe("snowflake worker ids leased by `floodgate service` processes", () => {
  const children: ChildServer[] = [];
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill("SIGKILL")));
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  const startService = async (name: string, env: Record<string, string>) => {
    const child = await startChildServer(
      ["service", name],
      { FLOODGATE_AUTH_SECRET: SECRET, FLOODGATE_LOG_LEVEL: "info", ...env },
      await freePort(),
    );
    children.push(child);
    return child;
  };

  it("gives two processes sharing a data dir different ids, mints with them, and frees them on shutdown", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "floodgate-ids-cli-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const [catalog, sales] = await Promise.all([
      startService("catalog", { FLOODGATE_DATA_DIR: dataDir }),
      startService("sales", { FLOODGATE_DATA_DIR: dataDir }),
    ]);
    const leased = [leasedWorkerId(catalog!), leasedWorkerId(sales!)];
    // Leased, lowest first: the two lowest ids, one each (not two ids derived from pids).
    expect(leased.map((lease) => lease.workerId).sort()).toEqual([0, 1]);
    expect(leased[0]!.where).toContain(join(dataDir, "ids"));
    expect(parseSnowflake(await createProduct(catalog!, "IDS-1"))?.worker).toBe(leased[0]!.workerId);

    await Promise.all([catalog!.kill("SIGTERM"), sales!.kill("SIGTERM")]);
    expect([catalog!.process.exitCode, sales!.process.exitCode]).toEqual([0, 0]);
    // Released, not left to expire: the lowest id is free at once.
    expect((await new FileWorkerIdLeases(join(dataDir, "ids")).acquire("next", 60_000))?.workerId).toBe(0);
  });

  it("refuses to start when all 64 ids are leased, naming FLOODGATE_WORKER_ID, and starts with it set", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "floodgate-ids-cli-"));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const leases = new FileWorkerIdLeases(join(dataDir, "ids"));
    for (let holder = 0; holder < 64; holder++) await leases.acquire(`elsewhere-${holder}`, 120_000);

    const refused = spawnSync(process.execPath, [BIN, "service", "catalog"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", FLOODGATE_DATA_DIR: dataDir },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("all 64 snowflake worker ids are leased on the data dir");
    expect(refused.stderr).toContain("FLOODGATE_WORKER_ID");
    expect(refused.stderr).not.toMatch(/\n\s+at /);

    const chosen = await startService("catalog", { FLOODGATE_DATA_DIR: dataDir, FLOODGATE_WORKER_ID: "63" });
    expect(parseSnowflake(await createProduct(chosen, "IDS-2"))?.worker).toBe(63);
  });

  it("leases from the primary database when there is one, for processes that share nothing else", async () => {
    if (!(await serverAvailable("postgres"))) return;
    const database = await createScratchPostgresDatabase();
    cleanup.push(() => database.drop());
    const env = () => {
      const dataDir = mkdtempSync(join(tmpdir(), "floodgate-ids-cli-"));
      cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
      return { FLOODGATE_DATA_DIR: dataDir, FLOODGATE_DATABASE_URLS: database.url };
    };
    const [catalog, sales] = await Promise.all([
      startService("catalog", env()),
      startService("sales", env()),
    ]);
    const leased = [leasedWorkerId(catalog!), leasedWorkerId(sales!)];
    expect(leased.map((lease) => lease.workerId).sort()).toEqual([0, 1]);
    expect(leased[0]!.where).toMatch(/^PostgreSQL shard-0 \(platform_ids\.worker_id_leases\)$/);

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const held = async () =>
        (await client.query("SELECT worker_id FROM platform_ids.worker_id_leases WHERE holder IS NOT NULL"))
          .rows;
      expect(await held()).toHaveLength(2);
      await Promise.all([catalog!.kill("SIGTERM"), sales!.kill("SIGTERM")]);
      expect(await held()).toHaveLength(0);
    } finally {
      await client.end();
    }
  });
});
