import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../src/bench/progress.js";

function fakeStream(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (text: string) => lines.push(text) } };
}

describe("ProgressReporter", () => {
  it("prints every second on a terminal, with the rate since the last line", () => {
    let now = 0;
    const { lines, stream } = fakeStream(true);
    const progress = new ProgressReporter(stream, () => now);
    progress.begin("run 1");
    for (let second = 1; second <= 3; second++) {
      now = second * 1000;
      progress.load("run 1", { elapsedMs: second * 1000, completed: second * 500, errors: 0 });
    }
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/3 s\s+1,500 requests\s+500 req\/s\s+errors 0/);
  });

  it("prints at most every 5 s when stderr is not a terminal", () => {
    let now = 0;
    const { lines, stream } = fakeStream(false);
    const progress = new ProgressReporter(stream, () => now);
    progress.begin("run 1");
    for (let second = 1; second <= 12; second++) {
      now = second * 1000;
      progress.load("run 1", { elapsedMs: second * 1000, completed: second * 100, errors: 2 });
    }
    // Seconds 1, 6 and 11; the second line's rate covers the 5 s since the first.
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/6 s\s+600 requests\s+100 req\/s\s+errors 2/);
    progress.note("forced", true);
    expect(lines.at(-1)).toBe("  forced\n");
  });
});
