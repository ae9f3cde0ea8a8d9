import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";

/** `<name>-<number of keys>.lua`: the file name says how many of the arguments are keys. */
const SCRIPT_FILE = /^([a-z0-9-]+)-(\d+)\.lua$/;

/**
 * A Lua script from `./scripts`, run with EVALSHA. Scripts are loaded into the server when the
 * stream opens (which also proves they compile) and again whenever the server answers NOSCRIPT:
 * its script cache is not persisted, so a restarted Redis has forgotten them.
 */
export class LuaScript {
  private constructor(
    readonly name: string,
    readonly numberOfKeys: number,
    private readonly source: string,
    private readonly sha1: string,
  ) {}

  static async read(fileName: string): Promise<LuaScript> {
    const match = SCRIPT_FILE.exec(fileName);
    if (match === null) {
      throw new Error(`Lua script file ${fileName} must be named <name>-<number of keys>.lua`);
    }
    const path = fileURLToPath(new URL(`./scripts/${fileName}`, import.meta.url));
    const source = await readFile(path, "utf8");
    const sha1 = createHash("sha1").update(source).digest("hex");
    return new LuaScript(basename(fileName, ".lua"), Number(match[2]), source, sha1);
  }

  async load(redis: Redis): Promise<void> {
    await redis.call("SCRIPT", "LOAD", this.source);
  }

  /** Runs the script; binary-safe (string replies come back as Buffers). */
  async run(
    redis: Redis,
    keys: readonly string[],
    args: ReadonlyArray<string | Buffer | number>,
  ): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`Lua script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    try {
      return await redis.callBuffer("EVALSHA", this.sha1, this.numberOfKeys, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) {
        throw error;
      }
      await this.load(redis);
      return await redis.callBuffer("EVALSHA", this.sha1, this.numberOfKeys, ...keys, ...args);
    }
  }
}

export interface StreamScripts {
  readonly appendDeduplicated: LuaScript;
  readonly claim: LuaScript;
  readonly deadLetter: LuaScript;
  readonly nak: LuaScript;
  readonly touch: LuaScript;
  readonly deleteIdleConsumer: LuaScript;
  readonly replayDeadLetter: LuaScript;
}

/** Reads every script and loads it into the server. */
export async function loadStreamScripts(redis: Redis): Promise<StreamScripts> {
  const scripts: StreamScripts = {
    appendDeduplicated: await LuaScript.read("append-dedup-2.lua"),
    claim: await LuaScript.read("claim-3.lua"),
    deadLetter: await LuaScript.read("dead-letter-3.lua"),
    nak: await LuaScript.read("nak-2.lua"),
    touch: await LuaScript.read("touch-2.lua"),
    deleteIdleConsumer: await LuaScript.read("delete-idle-consumer-1.lua"),
    replayDeadLetter: await LuaScript.read("replay-dead-letter-2.lua"),
  };
  await Promise.all(Object.values(scripts).map((script) => script.load(redis)));
  return scripts;
}
