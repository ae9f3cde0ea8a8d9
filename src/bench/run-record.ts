import type { TelemetrySample } from "../platform/observability/telemetry.js";
import type { DrainOutcome } from "./flash-sale-audit.js";
import type { GeneratorResult } from "./generator/messages.js";
import type { InvariantResult } from "./invariants.js";
import type { TargetName } from "./options.js";
import type { RunRecord } from "./report/result-types.js";

/** Turns a generator result and what was observed around it into the report's run record. */
export function toRunRecord(input: {
  target: TargetName;
  run: number;
  startedAt: string;
  result: GeneratorResult;
  serverSeries: TelemetrySample[] | null;
  seeding: RunRecord["seeding"];
  warmUp: RunRecord["warmUp"];
  cpu: RunRecord["cpu"];
  drain: DrainOutcome | null;
  invariants: InvariantResult[] | null;
}): Omit<RunRecord, "cpuProfile" | "targetExit"> {
  const { acceptedOrderIds, ...figures } = input.result;
  return {
    target: input.target,
    run: input.run,
    startedAt: input.startedAt,
    throughputRps: input.result.throughputRps,
    latencyMs: input.result.latencyMs,
    generator: { ...figures, acceptedOrders: new Set(acceptedOrderIds).size },
    serverSeries: input.serverSeries,
    seeding: input.seeding,
    warmUp: input.warmUp,
    cpu: input.cpu,
    drain: input.drain,
    invariants: input.invariants,
  };
}
