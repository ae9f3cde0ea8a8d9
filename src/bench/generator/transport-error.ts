/** A short, stable label for why a request got no HTTP answer (ECONNRESET, a timeout…). */
export function transportErrorCause(error: unknown): string {
  if (error && typeof error === "object") {
    // An AbortSignal.timeout (open model) and autocannon's own timeout both mean the same thing.
    const name = (error as { name?: unknown }).name;
    const text = (error as { message?: unknown }).message;
    if (name === "TimeoutError" || (typeof text === "string" && text.includes("timed out"))) return "timeout";
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const message = (error as { message?: unknown }).message;
    if (typeof message === "string" && message !== "") return message.slice(0, 60);
  }
  return "unknown";
}
