import { type Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { loadConfig } from "../platform/config/load-config.js";
import { deadLetterView } from "../platform/queue/dead-letter-view.js";
import { DirectoryLockedError } from "../platform/queue/embedded/lock-file.js";
import { InvalidDeadLetterIdError, type Stream, type TopicStats } from "../platform/queue/stream.js";
import { openStream, storeDirOf } from "../runtime/platform.js";

const DEFAULT_TOPIC = "orders.requested";
/** Replays of more than this many show progress on stderr. */
const PROGRESS_FROM = 100;

const topicOption = () =>
  new Option("-t, --topic <topic>", "the topic (its dead letters are in <topic>.dead)").default(
    DEFAULT_TOPIC,
  );

const positiveInteger = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) {
    throw new InvalidArgumentError("an integer from 1 to 10000");
  }
  return Number(value);
};

/**
 * `floodgate queue stats` and `floodgate dlq list|replay`: open the queue the server uses
 * (FLOODGATE_QUEUE_URL, FLOODGATE_QUEUE_PREFIX, FLOODGATE_DATA_DIR), like the server would.
 */
export function registerQueueCommands(program: Command): void {
  const queue = program
    .command("queue")
    .description("Inspect the queue a Floodgate uses (FLOODGATE_QUEUE_URL).");
  queue
    .command("stats")
    .description(
      "Per consumer group: LAG (the depth: appended, not yet acked) = WAITING (not yet delivered) + " +
        "IN FLIGHT (delivered, not yet acked), and REDELIVERED (of those, delivered more than once); " +
        "and the topic's dead letters.",
    )
    .addOption(topicOption())
    .option("--json", "print the figures as JSON", false)
    .action((options: { topic: string; json: boolean }) =>
      run(async (stream) => {
        const stats = await stream.stats(options.topic);
        process.stdout.write(options.json ? `${JSON.stringify(stats, null, 2)}\n` : renderStats(stats));
      }),
    );

  const dlq = program
    .command("dlq")
    .description("Inspect and replay a topic's dead letters (messages its consumers gave up on).");
  dlq
    .command("list")
    .description("Show dead letters, oldest first: id, attempts, when, and a short preview of the payload.")
    .addOption(topicOption())
    .option("-n, --limit <n>", "how many (1-10000)", positiveInteger, 20)
    .option("--after <id>", "start after this dead-letter id (the last one of the previous page)")
    .option("--json", "print them as JSON, payloads base64 in `data`", false)
    .action((options: { topic: string; limit: number; after?: string; json: boolean }) =>
      run(async (stream) => {
        const { topic, limit, after } = options;
        const [deadLetters, stats] = await Promise.all([
          stream.deadLetters(topic, { limit, ...(after === undefined ? {} : { after }) }),
          stream.stats(topic),
        ]);
        const next = deadLetters.length === limit ? deadLetters.at(-1)!.id : null;
        if (options.json) {
          const body = {
            topic,
            deadLetterTopic: `${topic}.dead`,
            total: stats.deadLetters,
            deadLetters: deadLetters.map(deadLetterView),
            next,
          };
          process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          renderDeadLetters(topic, stats.deadLetters, deadLetters.map(deadLetterView), next),
        );
      }),
    );
  dlq
    .command("replay")
    .description(
      "Append dead letters to their original topic again, then remove them from the dead-letter " +
        "topic; prints how many were replayed. A crash in between can replay one twice, which the " +
        "order worker absorbs (order ids are idempotent).",
    )
    .addOption(topicOption())
    .addOption(
      new Option("--id <id...>", "the dead letters to replay, by id (see dlq list)").conflicts("all"),
    )
    .addOption(new Option("--all", "replay every dead letter the topic holds when the replay starts"))
    .action((options: { topic: string; id?: string[]; all?: boolean }, command: Command) => {
      if (options.id === undefined && options.all !== true) {
        command.error("error: give --id <id...> or --all");
      }
      return run(async (stream) => {
        const { topic } = options;
        const progress = progressPrinter();
        const result = await stream.replayDeadLetters(topic, options.all ? "all" : options.id!, {
          onProgress: progress.update,
        });
        progress.done();
        process.stdout.write(
          `replayed ${result.replayed} dead letter${result.replayed === 1 ? "" : "s"} from ${topic}.dead to ${topic}\n`,
        );
        if (result.missing.length > 0) {
          process.stderr.write(
            `floodgate: not in ${topic}.dead (replayed already, or never there): ${result.missing.join(", ")}\n`,
          );
          process.exitCode = 1;
        }
      });
    });
}

/** Opens the queue, runs `work`, closes it; known failures become one line on stderr and exit code 1. */
async function run(work: (stream: Stream) => Promise<void>): Promise<void> {
  const config = loadConfig();
  let stream: Stream;
  try {
    stream = await openStream(config, storeDirOf(config), warningsToStderr());
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      return fail(
        `the embedded queue in ${error.directory} is in use by a running Floodgate (pid ${error.holder}); ` +
          "ask that server instead: GET /admin/queue/stats, GET /admin/dlq, POST /admin/dlq/replay on its " +
          "port, with an admin token from `npx floodgate token --user ops --admin`",
      );
    }
    return fail((error as Error).message);
  }
  try {
    await work(stream);
  } catch (error) {
    // A malformed id or topic name is the user's mistake: say so in one line.
    if (error instanceof InvalidDeadLetterIdError || error instanceof TypeError) {
      return fail(error.message);
    }
    throw error;
  } finally {
    await stream.close();
  }
}

function fail(message: string): void {
  process.stderr.write(`floodgate: ${message}\n`);
  process.exitCode = 1;
}

/** The adapters' warnings (an unsafe broker setting) as plain lines on stderr, not JSON logs on stdout. */
function warningsToStderr() {
  return pino(
    { level: "warn", base: undefined, timestamp: false },
    {
      write(line: string) {
        const { msg } = JSON.parse(line) as { msg?: string };
        process.stderr.write(`floodgate: warning: ${msg ?? line.trim()}\n`);
      },
    },
  );
}

function progressPrinter(): { update: (replayed: number, total: number) => void; done: () => void } {
  let shown = false;
  return {
    update(replayed, total) {
      if (total < PROGRESS_FROM) return;
      shown = true;
      const width = 30;
      const filled = Math.round((replayed / Math.max(1, total)) * width);
      const line = `replaying [${"#".repeat(filled)}${".".repeat(width - filled)}] ${replayed}/${total}`;
      // A terminal gets one line redrawn; a log file gets a line per step.
      process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
    },
    done() {
      if (shown && process.stderr.isTTY) process.stderr.write("\n");
    },
  };
}

function table(rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 && !rightAligned.has(column)
            ? cell
            : rightAligned.has(column)
              ? cell.padStart(widths[column]!)
              : cell.padEnd(widths[column]!),
        )
        .join("  "),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join("");
}

function renderStats(stats: TopicStats): string {
  const header = `${stats.topic}: ${stats.appended} appended, ${stats.deadLetters} dead letter${stats.deadLetters === 1 ? "" : "s"} in ${stats.topic}.dead\n`;
  if (stats.groups.length === 0) return `${header}no consumer groups yet\n`;
  const rows = [
    ["GROUP", "LAG", "WAITING", "IN FLIGHT", "REDELIVERED"],
    ...stats.groups.map((group) => [
      group.group,
      String(group.lag),
      String(group.lag - group.inFlight),
      String(group.inFlight),
      String(group.redelivered),
    ]),
  ];
  return header + table(rows, new Set([1, 2, 3, 4]));
}

function renderDeadLetters(
  topic: string,
  total: number,
  views: readonly ReturnType<typeof deadLetterView>[],
  next: string | null,
): string {
  const header = `${topic}.dead: ${total} dead letter${total === 1 ? "" : "s"}`;
  if (views.length === 0) return `${header}\n`;
  const rows = [
    ["ID", "ATTEMPTS", "DEAD-LETTERED", "PREVIEW"],
    ...views.map((view) => [
      view.id,
      view.attempts === null ? "-" : String(view.attempts),
      view.deadLetteredAt === null ? "-" : view.deadLetteredAt.replace(/\.\d{3}Z$/, "Z"),
      view.preview,
    ]),
  ];
  const more = next === null ? "" : `more: floodgate dlq list --topic ${topic} --after ${next}\n`;
  return `${header}, showing ${views.length}\n${table(rows, new Set([1]))}${more}`;
}
