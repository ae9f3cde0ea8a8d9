import type { ChildExit } from "./child-process.js";

/** A target the bench started (or was pointed at) and must stop. */
export interface RunningTarget {
  readonly url: string;
  /** The target's process id when the bench started it (for CPU accounting); null otherwise. */
  readonly pid: number | null;
  /** What the target printed lately, for error messages. */
  output(): string;
  stop(): Promise<ChildExit | null>;
}
