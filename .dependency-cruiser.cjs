/**
 * Architecture rules `npm run check` enforces (docs/architecture.md, "Ports and adapters"):
 * services depend on ports, only the runtime picks adapters, and a service reaches another only
 * through its client (`api.ts`) or its events (`*-events.ts`), never its tables or internals.
 */

/** Adapter files under src/platform/: the concrete ways a port is served (servers, files, memory). */
const ADAPTERS = [
  "^src/platform/[^/]+/(open|memory|local|redis|nats|memcached|pg|pglite|file|smtp|eml|simulator|carrier-simulator)-[^/]*[.]ts$",
  "^src/platform/queue/(embedded|nats|redis-streams)/",
  "^src/platform/payments/simulator/",
  "^src/platform/redis/",
  "^src/platform/reservations/stock-ledger[.]ts$",
  "^src/platform/cache/(l1-cache|remote-cache|redis-coordination|memcached-cas)[.]ts$",
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "services-use-ports-not-adapters",
      comment:
        "A service depends on ports; the runtime (src/runtime/) chooses adapters from config and hands them in.",
      severity: "error",
      from: { path: "^src/services/" },
      to: { path: ADAPTERS },
    },
    {
      name: "services-reach-others-through-client-or-events",
      comment:
        "Another service is reached through its client (api.ts) or its events (*-events.ts), never its internals.",
      severity: "error",
      from: { path: "^src/services/([^/]+)/" },
      to: {
        path: "^src/services/([^/]+)/",
        pathNot: ["^src/services/$1/", "^src/services/[^/]+/(api|[^/]+-events)[.]ts$"],
      },
    },
    {
      name: "platform-does-not-know-services",
      comment: "The platform is shared infrastructure: it never imports a service or the runtime.",
      severity: "error",
      from: { path: "^src/platform/" },
      to: { path: "^src/(services|runtime|cli|gateway|bench)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    exclude: { path: "^(dist|dashboard|node_modules)/" },
  },
};
