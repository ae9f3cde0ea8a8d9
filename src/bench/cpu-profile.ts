import { readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The parts of V8's .cpuprofile format (as written by `node --cpu-prof`) this summary reads. */
interface ProfileNode {
  readonly id: number;
  readonly children?: readonly number[];
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

export interface CpuProfileData {
  /** µs on the system's monotonic clock, the same clock as process.hrtime in any process. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTimeEntry {
  readonly functionName: string;
  /** Path relative to the repository (or `node:`/`wasm` etc.), with a 1-based line where known. */
  readonly location: string;
  /** For native code (no source of its own): the nearest JavaScript caller, which says why it ran. */
  readonly calledFrom: string | null;
  /** Where the code comes from: a Floodgate directory, a package, node internals, GC… */
  readonly area: string;
  readonly selfMs: number;
  /** Share of the busy (non-idle) time. */
  readonly selfPercent: number;
}

/** A span of the monotonic clock, in µs (process.hrtime.bigint() / 1000). */
export interface MonotonicWindow {
  readonly startUs: number;
  readonly endUs: number;
}

/** process.hrtime as µs: comparable with a .cpuprofile's sample times, even across processes. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface CpuProfileSummary {
  /** The part of the profile summarised; null = all of it. */
  readonly window: MonotonicWindow | null;
  readonly totalMs: number;
  /** Total minus V8's "(idle)": time the process was actually running something. */
  readonly busyMs: number;
  readonly topFunctions: SelfTimeEntry[];
  readonly topAreas: { readonly area: string; readonly selfMs: number; readonly selfPercent: number }[];
}

const PSEUDO_FRAMES = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** Short, stable names for where a frame's code lives, so the summary reads like a map of the code. */
export function areaOf(url: string, functionName: string): string {
  if (url === "" && PSEUDO_FRAMES.has(functionName)) return functionName;
  if (url === "") return "(native)";
  if (url.startsWith("node:")) return "node internals";
  if (url.startsWith("wasm://")) return "wasm";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? "node_modules");
  }
  const src = url.lastIndexOf("/src/");
  if (src >= 0) {
    const parts = url.slice(src + 1).split("/");
    // src/services/orders/… → "src/services/orders"; src/platform/http/… → "src/platform/http".
    return parts.slice(0, Math.min(3, parts.length - 1)).join("/");
  }
  return "other";
}

/** Sources read for declarationLine, by absolute path (null: unreadable). */
const sources = new Map<string, string | null>();

/**
 * The line declaring `functionName` in a TypeScript source, when exactly one line does. Needed
 * because tsx strips whitespace when it compiles TypeScript, so V8 reports line 1 for every
 * function of a project file; the name (kept by tsx) finds it again.
 */
export function declarationLine(source: string, functionName: string): number | undefined {
  if (!/^[A-Za-z_$][\w$]*$/.test(functionName)) return undefined;
  const name = functionName.replaceAll("$", "\\$");
  const forms = [
    // function name(…) / class Name
    new RegExp(`\\b(?:function\\s*\\*?|class)\\s+${name}\\b`),
    // a method: modifiers, the name and its parameters, at the start of a line (not a call statement)
    new RegExp(
      `^\\s*(?:(?:export|async|static|private|protected|public|readonly|override|get|set)\\s+)*${name}\\s*(?:<[^>]*>)?\\s*\\((?!.*\\);\\s*$)`,
    ),
    // const name = (…) => / function (…)
    new RegExp(
      `\\b(?:const|let|var)\\s+${name}\\s*(?::[^=]+)?=\\s*(?:async\\s*)?(?:\\(|function\\b|\\w+\\s*=>)`,
    ),
  ];
  const matches: number[] = [];
  source.split("\n").forEach((line, index) => {
    if (forms.some((form) => form.test(line))) matches.push(index + 1);
  });
  return matches.length === 1 ? matches[0] : undefined;
}

function sourceOf(path: string): string | null {
  let source = sources.get(path);
  if (source === undefined) {
    try {
      source = readFileSync(path, "utf8");
    } catch {
      source = null;
    }
    sources.set(path, source);
  }
  return source;
}

function shortLocation(
  url: string,
  lineNumber: number,
  functionName: string,
  repositoryRoot: string,
): string {
  if (url === "") return "";
  const absolute = url.startsWith("file://") ? fileURLToPath(url) : url;
  const path = absolute.startsWith(`${repositoryRoot}/`)
    ? absolute.slice(repositoryRoot.length + 1)
    : absolute;
  if (/\.[cm]?tsx?$/.test(absolute) && lineNumber === 0) {
    const source = sourceOf(absolute);
    const line = source === null ? undefined : declarationLine(source, functionName);
    return line === undefined ? path : `${path}:${line}`;
  }
  return `${path}:${lineNumber + 1}`;
}

/**
 * Self time per function: each sample's time goes to the frame on top of the stack. V8 stores
 * the time before sample i in timeDeltas[i], so sample i owns timeDeltas[i + 1]. With a window,
 * only samples taken inside it count (e.g. the load, without start-up and migrations).
 */
export function summarizeCpuProfile(
  profile: CpuProfileData,
  options: { repositoryRoot: string; top: number; window?: MonotonicWindow },
): CpuProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const nearestScriptCaller = (id: number): string | null => {
    for (let current = parentOf.get(id), hops = 0; current !== undefined && hops < 50; hops++) {
      const frame = byId.get(current)?.callFrame;
      if (frame && frame.url !== "") {
        const name = frame.functionName || "(anonymous)";
        return `${name} ${shortLocation(frame.url, frame.lineNumber, name, options.repositoryRoot)}`;
      }
      current = parentOf.get(current);
    }
    return null;
  };
  const selfUs = new Map<number, number>();
  const window = options.window;
  let sampledAt = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    sampledAt += profile.timeDeltas[i] ?? 0;
    if (window && (sampledAt < window.startUs || sampledAt > window.endUs)) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const byFunction = new Map<
    string,
    { functionName: string; location: string; area: string; calledFrom: string | null; us: number }
  >();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    const functionName = frame.functionName || "(anonymous)";
    if (functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const location = shortLocation(frame.url, frame.lineNumber, functionName, options.repositoryRoot);
    const calledFrom = frame.url === "" && !PSEUDO_FRAMES.has(functionName) ? nearestScriptCaller(id) : null;
    const key = `${functionName}\u0000${location}\u0000${calledFrom ?? ""}`;
    const entry = byFunction.get(key);
    if (entry) entry.us += us;
    else
      byFunction.set(key, { functionName, location, area: areaOf(frame.url, functionName), calledFrom, us });
    const area = areaOf(frame.url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const percent = (us: number) => (busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0);
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    window: window ?? null,
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, options.top)
      .map((entry) => ({
        functionName: entry.functionName,
        location: entry.location,
        area: entry.area,
        calledFrom: entry.calledFrom,
        selfMs: ms(entry.us),
        selfPercent: percent(entry.us),
      })),
    topAreas: [...byArea]
      .sort((a, b) => b[1] - a[1])
      .slice(0, options.top)
      .map(([area, us]) => ({ area, selfMs: ms(us), selfPercent: percent(us) })),
  };
}

export function readCpuProfile(path: string): CpuProfileData {
  const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<CpuProfileData>;
  if (
    typeof parsed.startTime !== "number" ||
    !Array.isArray(parsed.nodes) ||
    !Array.isArray(parsed.samples) ||
    !Array.isArray(parsed.timeDeltas)
  ) {
    throw new Error(`${path} is not a V8 .cpuprofile (nodes, samples and timeDeltas expected)`);
  }
  return parsed as CpuProfileData;
}

/**
 * Node names each profile `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; the main
 * thread, which runs the HTTP server and everything it calls, has thread id 0. Moves that one to
 * `destination` and removes the directory; returns false when there was none.
 */
export function keepMainThreadProfile(directory: string, destination: string): boolean {
  const main = readdirSync(directory).find((name) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(name));
  if (main) renameSync(join(directory, main), destination);
  rmSync(directory, { recursive: true, force: true });
  return main !== undefined;
}
