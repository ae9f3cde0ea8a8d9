import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runLifecycleBench } from "../../src/bench/lifecycle/lifecycle-bench.js";
import { JsonClient } from "../../src/bench/lifecycle/lifecycle-http.js";
import { resolveLifecycleOptions } from "../../src/bench/lifecycle/lifecycle-options.js";
import { startSyncServer } from "../../src/bench/lifecycle/sync-run.js";
import { SIGNATURE_HEADER, signNotification } from "../../src/platform/payments/webhook-signature.js";

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));
const quiet = { write: () => true, isTTY: false } as never;

describe("floodgate bench lifecycle", () => {
  const out = mkdtempSync(join(tmpdir(), "floodgate-lifecycle-test-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("is described by --help", () => {
    const { status, stdout } = spawnSync(process.execPath, [BIN, "bench", "--help"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
      encoding: "utf8",
    });
    expect(status).toBe(0);
    expect(stdout).toContain("lifecycle");
    expect(stdout).toContain("--buyers");
    expect(stdout).toContain("--compare sync");
  });

  it("runs 20 buyers from payment to completion, against the sync baseline, every invariant passing", async () => {
    let printed = "";
    const { report, exitCode } = await runLifecycleBench(
      resolveLifecycleOptions({ buyers: "20", compare: "sync", out }),
      { stdout: { write: (text: string) => (printed += text) }, stderr: quiet },
      "test",
    );
    const failed = report.runs.flatMap((run) => run.invariants.filter((invariant) => !invariant.pass));
    expect(failed).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.summaries.map((summary) => summary.target)).toEqual(["floodgate", "sync"]);
    const [floodgate, sync] = report.runs;
    expect(floodgate!.webhook.count).toBeGreaterThanOrEqual(20);
    expect(floodgate!.confirmationEmail.count).toBe(20);
    expect(floodgate!.completedPerSecond).toBeGreaterThan(0);
    expect(sync!.webhook.count).toBeGreaterThanOrEqual(20);
    expect(sync!.confirmationEmail.count).toBe(20);
    expect(report.webhookP99Ratio).toBeGreaterThan(0);
    expect(printed).toContain("Webhook p99, sync ÷ async");
    expect(readdirSync(out).some((name) => name.endsWith(".json"))).toBe(true);
  }, 120_000);
});

describe("the sync baseline", () => {
  it("does every step before it answers: payment, order, shipment, email, points; a replay is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "floodgate-sync-test-"));
    const secret = randomBytes(32).toString("hex");
    const server = await startSyncServer({
      webhookSecret: secret,
      databaseUrl: null,
      dataDir: join(dir, "db"),
      mailDir: join(dir, "mail"),
      pointsPerUnit: 1,
    });
    const client = new JsonClient(server.url, 2);
    try {
      await client.expect(201, "POST", "/seed", {
        body: { orders: [{ id: "5001", userId: "ann", amountCents: 1999 }] },
      });
      const body = JSON.stringify({
        id: "evt_1",
        type: "payment.succeeded",
        created: Math.floor(Date.now() / 1000),
        data: {
          providerPaymentId: "pp_1",
          paymentId: "pay_1",
          orderId: "5001",
          amountCents: 1999,
          currency: "EUR",
        },
      });
      const post = (signature: string) =>
        client.call("POST", "/webhooks/payments", {
          headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature },
          body: JSON.parse(body),
        });
      const signed = signNotification(secret, body, Math.floor(Date.now() / 1000));
      expect((await post(`t=1,v1=${"0".repeat(64)}`)).status).toBe(400);
      expect((await post(signed)).status).toBe(200);
      // Everything is there the moment it answered.
      const audit = await client.expect<Record<string, unknown[]>>(200, "GET", "/audit");
      expect(audit.orders).toEqual([{ id: "5001", status: "shipped" }]);
      expect(audit.payments).toHaveLength(1);
      expect(audit.shipments).toHaveLength(1);
      expect(audit.emails).toMatchObject([{ orderId: "5001", kind: "order_confirmation" }]);
      expect(audit.points).toEqual([{ orderId: "5001", kind: "award", points: 19 }]);
      expect(readdirSync(join(dir, "mail"))).toEqual(["confirmation-5001.eml"]);
      expect((await post(signed)).status).toBe(409);
      expect((await client.expect<Record<string, unknown[]>>(200, "GET", "/audit")).points).toHaveLength(1);
    } finally {
      await client.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
