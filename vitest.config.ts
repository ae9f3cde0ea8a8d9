import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start PGlite instances and child processes; two cores cannot take many at once.
    maxWorkers: 2,
  },
});
