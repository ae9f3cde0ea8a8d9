import { describe, expect, it } from "vitest";
import { LocalBroadcast } from "../../../src/platform/broadcast/local-broadcast.js";
import { MemoryBloomFilter } from "../../../src/platform/cache/bloom/memory-bloom-filter.js";
import { userKey } from "../../../src/platform/reservations/reservation-book.js";
import { STOCK_AVAILABILITY_CHANNEL } from "../../../src/services/inventory/api.js";
import { SoldOutFlags } from "../../../src/services/orders/sold-out-flags.js";

async function holdersOf(...pairs: string[]) {
  const filter = new MemoryBloomFilter(0.01);
  await filter.rebuild(pairs, pairs.length);
  return filter.snapshot()!;
}

describe("sold-out flags in an intake", () => {
  it("refuses from broadcast news, keeps newer news over older, and lets holders' replays through", async () => {
    const now = 1_000;
    const broadcast = new LocalBroadcast();
    const flags = new SoldOutFlags(broadcast, () => now);
    expect(flags.refuses("S", undefined)).toBe(false); // nothing known: ask the inventory

    const holders = await holdersOf(userKey("alice", "k1"));
    await broadcast.publish(
      STOCK_AVAILABILITY_CHANNEL,
      JSON.stringify({ sku: "S", available: 0, version: 7, holders }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(flags.refuses("S", undefined)).toBe(true);
    expect(flags.refuses("S", userKey("bob", "k9"))).toBe(true); // surely not a holder
    expect(flags.refuses("S", userKey("alice", "k1"))).toBe(false); // may be a replay: ask

    // Old news (an earlier "back on sale") never overrides newer.
    flags.learn({ sku: "S", available: 3, version: 6 });
    expect(flags.refuses("S", undefined)).toBe(true);
    // A refusal at the same version keeps the holders the news brought.
    flags.learn({ sku: "S", available: 0, version: 7 });
    expect(flags.refuses("S", userKey("bob", "k9"))).toBe(true);
    // Newer: stock came back.
    flags.learn({ sku: "S", available: 1, version: 8 });
    expect(flags.refuses("S", undefined)).toBe(false);
    // Sold out again, known from a refusal only (no holders): keyed requests go to the inventory.
    flags.learn({ sku: "S", available: 0, version: 9 });
    expect(flags.refuses("S", userKey("bob", "k9"))).toBe(false);
    expect(flags.refuses("S", undefined)).toBe(true);
  });

  it("lets one request through to re-check once the flag is a second old", () => {
    let now = 0;
    const flags = new SoldOutFlags(new LocalBroadcast(), () => now);
    flags.learn({ sku: "S", available: 0, version: 1 });
    now = 999;
    expect(flags.refuses("S", undefined)).toBe(true);
    now = 1_000;
    expect(flags.refuses("S", undefined)).toBe(false); // this one asks the inventory
    expect(flags.refuses("S", undefined)).toBe(true); // the others keep trusting the flag meanwhile
  });
});
