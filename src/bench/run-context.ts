import type { BenchOptions } from "./options.js";
import type { ProgressReporter } from "./progress.js";

/** What every run of one bench invocation shares. */
export interface RunContext {
  readonly options: BenchOptions;
  /** The secret the target verifies tokens with; the generator signs buyers' tokens with it. */
  readonly authSecret: string;
  /** Absolute results directory. */
  readonly outDir: string;
  /** Prefix of every file this invocation writes, e.g. flash-sale-2025-01-01T12-00-00Z. */
  readonly filePrefix: string;
  readonly progress: ProgressReporter;
}
