import { type CpuShares, type CpuSnapshot, cpuShares, takeCpuSnapshot } from "./cpu-accounting.js";
import { runGeneratorProcess } from "./generator/fork-generator.js";
import type { GeneratorJob, GeneratorProgress, GeneratorResult } from "./generator/messages.js";

/**
 * Runs the generator and accounts for the machine's CPU over exactly the load: from the moment
 * the generator reports its first request (its start-up and token signing excluded) to its result.
 */
export async function runMeasuredLoad(
  job: GeneratorJob,
  targetPid: number | null,
  onProgress: (progress: GeneratorProgress) => void,
  /** The servers the target works through (their listening processes), accounted apart. */
  serverPids: readonly number[] = [],
): Promise<{ result: GeneratorResult; cpu: CpuShares }> {
  let before: CpuSnapshot | undefined;
  const result = await runGeneratorProcess(job, onProgress, () => {
    before = takeCpuSnapshot(targetPid, serverPids);
  });
  const after = takeCpuSnapshot(targetPid, serverPids);
  return { result, cpu: cpuShares(before ?? after, after, result.cpu.userMs + result.cpu.systemMs) };
}
