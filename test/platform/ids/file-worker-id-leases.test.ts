import { mkdtempSync, rmSync } from "node:fs";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileWorkerIdLeases } from "../../../src/platform/ids/file-worker-id-leases.js";
import { describeWorkerIdLeasesConformance } from "./worker-id-leases-conformance.js";

describeWorkerIdLeasesConformance("files in a directory", async () => {
  const directory = mkdtempSync(join(tmpdir(), "floodgate-ids-"));
  return {
    open: async () => new FileWorkerIdLeases(join(directory, "ids")),
    remove: async () => rmSync(directory, { recursive: true, force: true }),
  };
});

describe("FileWorkerIdLeases", () => {
  it("judges a lease by its expiry, not by a process id: a lease naming a live pid 1 that expired is taken over", async () => {
    const directory = mkdtempSync(join(tmpdir(), "floodgate-ids-"));
    try {
      const leases = new FileWorkerIdLeases(directory);
      // What a container's process (always pid 1) left behind, live by pid, expired by time.
      await writeFile(join(directory, "worker-0.4.lease"), "other-host:1:abcd\n");
      await utimes(join(directory, "worker-0.4.lease"), new Date(), new Date(Date.now() - 1000));
      expect(await leases.acquire("me", 60_000)).toEqual({ workerId: 0, previousMintedUntilMs: undefined });
      // The new generation replaced the old one, which is gone.
      expect((await readdir(directory)).filter((name) => name.endsWith(".lease"))).toEqual([
        "worker-0.5.lease",
      ]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("gives up a lease whose renewal lands after it expired, instead of trusting it", async () => {
    const directory = mkdtempSync(join(tmpdir(), "floodgate-ids-"));
    try {
      const leases = new FileWorkerIdLeases(directory);
      const { workerId } = (await leases.acquire("me", 200))!;
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Nobody took it, but someone could have between our looking and our renewing.
      expect(await leases.renew(workerId, "me", 60_000, 1)).toBe(false);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
