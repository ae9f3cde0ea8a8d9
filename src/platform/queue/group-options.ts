import type { GroupOptions } from "./stream.js";

/** The checks every Stream adapter makes on `group(…)` options, with one message for all. */
export function assertGroupOptions(group: string, options: GroupOptions): void {
  if (
    !(options.visibilityTimeoutMs > 0) ||
    !Number.isInteger(options.maxAttempts) ||
    options.maxAttempts < 1
  ) {
    throw new RangeError(
      `Consumer group "${group}" needs visibilityTimeoutMs > 0 and an integer maxAttempts >= 1, got ` +
        `${options.visibilityTimeoutMs} and ${options.maxAttempts}`,
    );
  }
}
