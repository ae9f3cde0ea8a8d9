import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** Where `npm run dashboard:dev` forwards the telemetry and mail endpoints: a running `npm start`. */
const floodgateUrl = process.env.FLOODGATE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  // Pinned to this directory so the build does not depend on the working directory.
  root: fileURLToPath(new URL(".", import.meta.url)),
  // The server mounts the page at /dashboard and its files at /dashboard/assets/.
  base: "/dashboard/",
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    // Served from the same origin; no need for the polyfill or the size report, which only slow the build.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      "/dashboard/series": floodgateUrl,
      "/dashboard/events": floodgateUrl,
      "/admin/mail": floodgateUrl,
    },
  },
});
