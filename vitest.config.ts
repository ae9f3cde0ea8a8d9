import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Generous: several tests start PGlite or whole Floodgate processes, which on 2 busy cores can
    // take tens of seconds. A test that hangs still fails, just later.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Tests start PGlite instances and child processes; two cores cannot take many at once.
    maxWorkers: 2,
    // Development unless a test says otherwise (production is implied by any server URL, and wants
    // a configured secret and internal ports that tests of other things need not set).
    env: { FLOODGATE_ENV: "development" },
  },
});
