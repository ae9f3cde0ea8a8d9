import { describe } from "vitest";
import { MemoryCache } from "../../../src/platform/cache/memory-cache.js";
import { describeCacheConformance } from "./cache-conformance.js";

describe("MemoryCache", () => {
  describeCacheConformance("memory", async () => new MemoryCache(), { shortTtlMs: 200, expiryGraceMs: 300 });
});
