import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { loadConfig } from "../platform/config/load-config.js";
import { tokenServiceFor } from "../runtime/platform.js";

interface WarmProgress {
  warmed?: number;
  total?: number;
  done?: boolean;
}

/** `floodgate cache warm`: asks a running Floodgate to preload its hot products, showing progress. */
export function registerCacheCommand(program: Command): void {
  const cache = program.command("cache").description("Operate the cache of a running Floodgate.");
  cache
    .command("warm")
    .description("Preload the most recently updated products into the cache (before a sale).")
    .option(
      "--top <n>",
      "how many products",
      (value: string) => {
        if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError("a positive integer");
        return Number(value);
      },
      1000,
    )
    .option("--url <url>", "the running Floodgate (default: http://127.0.0.1:$FLOODGATE_PORT)")
    .action(async (options: { top: number; url?: string }) => {
      const config = loadConfig();
      const base = options.url ?? `http://127.0.0.1:${config.port}`;
      const token = tokenServiceFor(config).issue({ userId: "floodgate-cli", admin: true, ttlSeconds: 300 });
      const response = await fetch(`${base}/admin/cache/warm`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ top: options.top }),
      });
      if (!response.ok || !response.body) {
        throw new Error(`${base} answered ${response.status}: ${await response.text()}`);
      }
      const decoder = new TextDecoder();
      let buffered = "";
      let last: WarmProgress = {};
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          last = JSON.parse(buffered.slice(0, newline)) as WarmProgress;
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf("\n");
          if (last.warmed !== undefined && last.total) {
            const width = 30;
            const filled = Math.round((last.warmed / last.total) * width);
            process.stderr.write(
              `\rwarming [${"#".repeat(filled)}${".".repeat(width - filled)}] ${last.warmed}/${last.total}`,
            );
          }
        }
      }
      process.stderr.write(
        `\n${last.done ? `warmed ${last.total} products` : "the server stopped before finishing"}\n`,
      );
      if (!last.done) process.exitCode = 1;
    });
}
