import { getHeapStatistics } from "node:v8";
import type { FastifyInstance } from "fastify";
import type { TokenService } from "../auth/tokens.js";
import { adminOf } from "./principal.js";

/** What `GET /admin/diagnostics/memory` answers: this process's memory, in bytes. */
export interface MemoryDiagnostics {
  readonly pid: number;
  /** True when a full garbage collection ran right before the figures were read. */
  readonly gc: boolean;
  readonly uptimeSeconds: number;
  readonly memory: {
    readonly rss: number;
    readonly heapTotal: number;
    readonly heapUsed: number;
    readonly external: number;
    readonly arrayBuffers: number;
    /** The heap's ceiling (Node's default, or --max-old-space-size). */
    readonly heapSizeLimit: number;
  };
}

/**
 * `GET /admin/diagnostics/memory` (admin token): this process's process.memoryUsage(). Only a
 * heap read after a full collection says what the process keeps, so when the process runs with
 * `node --expose-gc` it collects first (a pause of the whole process, tens to hundreds of ms on a
 * large heap: for operators and the soak bench, not for scrapers) and answers `gc: true`; without
 * the flag it reads the heap as it is, garbage included, and answers `gc: false`.
 */
export function registerDiagnosticsRoutes(
  app: FastifyInstance,
  deps: {
    readonly tokens: TokenService;
    /** The collector to run first; the one --expose-gc installs, when present. */
    readonly gc?: (() => void) | undefined;
  },
): void {
  const collect = "gc" in deps ? deps.gc : (globalThis as { gc?: () => void }).gc;
  app.get("/admin/diagnostics/memory", async (request): Promise<MemoryDiagnostics> => {
    adminOf(request, deps.tokens);
    if (collect) collect();
    const usage = process.memoryUsage();
    return {
      pid: process.pid,
      gc: collect !== undefined,
      uptimeSeconds: Math.round(process.uptime() * 10) / 10,
      memory: {
        rss: usage.rss,
        heapTotal: usage.heapTotal,
        heapUsed: usage.heapUsed,
        external: usage.external,
        arrayBuffers: usage.arrayBuffers,
        heapSizeLimit: getHeapStatistics().heap_size_limit,
      },
    };
  });
}
