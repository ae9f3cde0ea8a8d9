import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Cluster, Redis } from "ioredis";

export type RedisClient = Redis | Cluster;

/**
 * A Lua script from a `<name>-<numKeys>.lua` file, read once and run by EVALSHA (ioredis falls
 * back to EVAL and caches the script when the server does not know it, e.g. after a restart).
 */
export class LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  private readonly source: string;

  constructor(path: string) {
    const match = /^(.+)-(\d+)\.lua$/.exec(basename(path));
    if (!match) throw new Error(`Lua script file ${path} must be named <name>-<numKeys>.lua`);
    this.name = match[1]!;
    this.numberOfKeys = Number(match[2]);
    this.source = readFileSync(path, "utf8");
  }

  run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    // defineCommand is idempotent per name and gives EVALSHA with an automatic EVAL fallback.
    const commands = client as unknown as Record<
      string,
      (...args: (string | number | Buffer)[]) => Promise<unknown>
    >;
    if (typeof commands[this.name] !== "function") {
      client.defineCommand(this.name, { numberOfKeys: this.numberOfKeys, lua: this.source });
    }
    return commands[this.name]!.call(client, ...keys, ...args);
  }
}
