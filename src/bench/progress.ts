/** Where progress lines go: stderr, or anything with write() and an isTTY flag. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const TTY_INTERVAL_MS = 1000;
/** A log file or CI console gets a line every 5 s at most, not a line a second. */
const PIPE_INTERVAL_MS = 5000;

/**
 * Progress on stderr while a run goes: elapsed, requests, rate and errors. A terminal gets a line
 * every second; anything else at most one every 5 s. The rate is over the interval since the
 * last printed line.
 */
export class ProgressReporter {
  private readonly minIntervalMs: number;
  private lastPrintedAt = Number.NEGATIVE_INFINITY;
  private lastElapsedMs = 0;
  private lastCompleted = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.minIntervalMs = stream.isTTY ? TTY_INTERVAL_MS : PIPE_INTERVAL_MS;
  }

  /** Starts a new run's progress (rates restart from zero). */
  begin(label: string): void {
    this.lastElapsedMs = 0;
    this.lastCompleted = 0;
    this.lastPrintedAt = Number.NEGATIVE_INFINITY;
    this.stream.write(`${label}\n`);
  }

  load(label: string, progress: { elapsedMs: number; completed: number; errors: number }): void {
    if (!this.due()) return;
    const seconds = (progress.elapsedMs - this.lastElapsedMs) / 1000;
    const rate = seconds > 0 ? (progress.completed - this.lastCompleted) / seconds : 0;
    this.lastElapsedMs = progress.elapsedMs;
    this.lastCompleted = progress.completed;
    this.stream.write(
      `  ${label} ${(progress.elapsedMs / 1000).toFixed(0).padStart(4)} s  ${progress.completed
        .toLocaleString("en-US")
        .padStart(
          10,
        )} requests  ${Math.round(rate).toLocaleString("en-US").padStart(7)} req/s  errors ${progress.errors}\n`,
    );
  }

  /** A free-form status line (drain, audit), rate-limited like the load lines. */
  note(text: string, force = false): void {
    if (!force && !this.due()) return;
    this.stream.write(`  ${text}\n`);
  }

  private due(): boolean {
    const now = this.now();
    if (now - this.lastPrintedAt < this.minIntervalMs) return false;
    this.lastPrintedAt = now;
    return true;
  }
}
