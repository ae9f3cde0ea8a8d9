import { randomBytes } from "node:crypto";
import { describe } from "vitest";
import { connectRedis } from "../../../src/platform/cache/redis-cache.js";
import { RedisWorkerIdLeases } from "../../../src/platform/ids/redis-worker-id-leases.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { describeWorkerIdLeasesConformance } from "./worker-id-leases-conformance.js";

const redisUp = await serverAvailable("redis");
const PATIENT = { commandTimeoutMs: 2000 };

describe.skipIf(!redisUp)("Redis server (shared, 127.0.0.1:6379)", () => {
  // A key prefix of its own per test, deleted afterwards: test files share the server.
  describeWorkerIdLeasesConformance("redis", async () => {
    const prefix = `ids-test:${randomBytes(5).toString("hex")}:`;
    return {
      open: async () =>
        new RedisWorkerIdLeases(await connectRedis(servers.redis.url, PATIENT), prefix, "test Redis"),
      remove: async () => {
        const redis = await connectRedis(servers.redis.url, PATIENT);
        try {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
        } finally {
          redis.disconnect();
        }
      },
    };
  });
});
