import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Delivery, Stream, TopicStats } from "../../../src/platform/queue/stream.js";
import { eventually, startTestServer, type TestServer } from "../../support/test-server.js";

type ErrorBody = { error: { code: string; message: string } };
interface DeadLetterPage {
  topic: string;
  deadLetterTopic: string;
  next: string | null;
  deadLetters: {
    id: string;
    originalTopic: string;
    attempts: number | null;
    deadLetteredAt: string | null;
    bytes: number;
    data: string;
    preview: string;
  }[];
}

/** A topic of its own, so the order worker never touches these messages. */
const TOPIC = "admin-test.jobs";
const text = (value: string) => new TextEncoder().encode(value);

/** Appends `values` and has a one-attempt group give up on each: real dead letters, in order. */
async function deadLetter(stream: Stream, values: readonly string[]): Promise<void> {
  for (const value of values) await stream.append(TOPIC, text(value));
  const group = stream.group(TOPIC, "jobs", { visibilityTimeoutMs: 30_000, maxAttempts: 1 });
  const deliveries: Delivery[] = [];
  while (deliveries.length < values.length) deliveries.push(...(await group.fetch(values.length, 1_000)));
  for (const delivery of deliveries) await delivery.nak();
}

/** The value of one series on /metrics, or undefined when it is not there. */
function metric(body: string, series: string): number | undefined {
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("queue admin routes", () => {
  let server: TestServer;
  const admin = { user: "ops", admin: true };

  beforeAll(async () => {
    server = await startTestServer();
    await deadLetter(server.running.platform.stream, ["job-0", "job-1", "job-2"]);
  });
  afterAll(() => server?.close());

  it("need an admin token", async () => {
    for (const [method, path] of [
      ["GET", "/admin/queue/stats"],
      ["GET", "/admin/dlq"],
      ["POST", "/admin/dlq/replay"],
    ] as const) {
      const body = method === "POST" ? { all: true } : undefined;
      const anonymous = await server.request<ErrorBody>(method, path, { body });
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.body.error.code).toBe("unauthorized");
      const user = await server.request<ErrorBody>(method, path, { user: "alice", body });
      expect(user.status, path).toBe(403);
      expect(user.body.error.code).toBe("forbidden");
    }
  });

  it("GET /admin/queue/stats answers for the order queue by default, and for any topic", async () => {
    const orders = await server.request<TopicStats>("GET", "/admin/queue/stats", admin);
    expect(orders.status).toBe(200);
    expect(orders.body).toMatchObject({ topic: "orders.requested", deadLetters: 0 });
    expect(orders.body.groups.map((group) => group.group)).toContain("order-writers");

    const jobs = await server.request<TopicStats>("GET", `/admin/queue/stats?topic=${TOPIC}`, admin);
    expect(jobs.body).toEqual({
      topic: TOPIC,
      appended: 3,
      deadLetters: 3,
      groups: [{ group: "jobs", lag: 0, inFlight: 0, redelivered: 0 }],
    });
  });

  it("GET /admin/dlq lists dead letters with a preview and the id of the next page", async () => {
    const page = await server.request<DeadLetterPage>("GET", `/admin/dlq?topic=${TOPIC}&limit=2`, admin);
    expect(page.status).toBe(200);
    expect(page.body.deadLetterTopic).toBe(`${TOPIC}.dead`);
    expect(page.body.deadLetters.map((deadLetter) => deadLetter.preview)).toEqual(["job-0", "job-1"]);
    expect(page.body.deadLetters[0]).toMatchObject({
      originalTopic: TOPIC,
      // The embedded log records neither attempts nor time: null, not a guess.
      attempts: null,
      deadLetteredAt: null,
      bytes: 5,
      data: Buffer.from("job-0").toString("base64"),
    });
    expect(page.body.next).toBe(page.body.deadLetters[1]!.id);
    const rest = await server.request<DeadLetterPage>(
      "GET",
      `/admin/dlq?topic=${TOPIC}&limit=2&after=${page.body.next}`,
      admin,
    );
    expect(rest.body.deadLetters.map((deadLetter) => deadLetter.preview)).toEqual(["job-2"]);
    expect(rest.body.next).toBeNull();
  });

  it("POST /admin/dlq/replay moves dead letters back, by id and then all", async () => {
    const before = await server.request<DeadLetterPage>("GET", `/admin/dlq?topic=${TOPIC}`, admin);
    const [first] = before.body.deadLetters;

    const byId = await server.request("POST", "/admin/dlq/replay", {
      ...admin,
      body: { topic: TOPIC, ids: [first!.id, "99999"] },
    });
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual({ topic: TOPIC, replayed: 1, missing: ["99999"] });

    const all = await server.request("POST", "/admin/dlq/replay", {
      ...admin,
      body: { topic: TOPIC, all: true },
    });
    expect(all.body).toEqual({ topic: TOPIC, replayed: 2, missing: [] });

    const stats = await server.request<TopicStats>("GET", `/admin/queue/stats?topic=${TOPIC}`, admin);
    expect(stats.body).toMatchObject({ appended: 6, deadLetters: 0 });
    expect(stats.body.groups).toEqual([{ group: "jobs", lag: 3, inFlight: 0, redelivered: 0 }]);
  });

  it("refuses bad input with a catalogued code", async () => {
    const cases: [string, () => Promise<{ status: number; body: unknown }>, number, string][] = [
      [
        "a topic with a space",
        () => server.request("GET", "/admin/queue/stats?topic=a%20b", admin),
        400,
        "invalid_topic",
      ],
      [
        "a topic starting with a dot",
        () => server.request("GET", "/admin/dlq?topic=.x", admin),
        400,
        "invalid_topic",
      ],
      [
        "the lock file as topic",
        () => server.request("GET", "/admin/dlq?topic=LOCK", admin),
        400,
        "invalid_topic",
      ],
      ["limit 0", () => server.request("GET", "/admin/dlq?limit=0", admin), 400, "invalid_request"],
      ["limit 1001", () => server.request("GET", "/admin/dlq?limit=1001", admin), 400, "invalid_request"],
      [
        "an unknown parameter",
        () => server.request("GET", "/admin/dlq?topics=x", admin),
        400,
        "invalid_request",
      ],
      [
        "a malformed after",
        () => server.request("GET", "/admin/dlq?after=1-0", admin),
        400,
        "invalid_dead_letter_id",
      ],
      [
        "a malformed id",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { ids: ["../1"] } }),
        400,
        "invalid_dead_letter_id",
      ],
      [
        "neither ids nor all",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: {} }),
        400,
        "invalid_replay_selection",
      ],
      [
        "both ids and all",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { ids: ["1"], all: true } }),
        400,
        "invalid_replay_selection",
      ],
      [
        "an empty id list",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { ids: [] } }),
        400,
        "invalid_replay_selection",
      ],
      [
        "all: false",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { all: false } }),
        400,
        "invalid_replay_selection",
      ],
      [
        "ids as a string",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { ids: "1" } }),
        400,
        "invalid_request",
      ],
      [
        "an unknown field",
        () => server.request("POST", "/admin/dlq/replay", { ...admin, body: { all: true, force: true } }),
        400,
        "invalid_request",
      ],
    ];
    for (const [name, send, status, code] of cases) {
      const response = await send();
      expect(response.status, name).toBe(status);
      expect((response.body as ErrorBody).error.code, name).toBe(code);
    }
  });

  it("/metrics shows the order queue's depth, retries and dead letters, and the write ceiling", async () => {
    const labels = '{topic="orders.requested",group="order-writers"}';
    const scrape = async () => (await server.request<string>("GET", "/metrics")).body;
    const initial = await scrape();
    expect(metric(initial, `floodgate_queue_lag_messages${labels}`)).toBe(0);
    expect(metric(initial, `floodgate_queue_in_flight_messages${labels}`)).toBe(0);
    expect(metric(initial, `floodgate_queue_redelivered_messages${labels}`)).toBe(0);
    expect(metric(initial, 'floodgate_queue_dead_letter_messages{topic="orders.requested"}')).toBe(0);
    expect(metric(initial, "floodgate_orders_write_rate_ceiling")).toBe(0);

    // A message the order worker cannot read: it gives it back and retries it a second later.
    const stream = server.running.platform.stream;
    await stream.append("orders.requested", text("not an order"));
    await eventually(
      async () => metric(await scrape(), `floodgate_queue_redelivered_messages${labels}`) === 1,
      10_000,
      "the malformed order to be retried",
    );
    const retrying = await scrape();
    expect(metric(retrying, `floodgate_queue_lag_messages${labels}`)).toBe(1);
    expect(metric(retrying, `floodgate_queue_in_flight_messages${labels}`)).toBe(1);
    expect(metric(retrying, 'floodgate_queue_appended_messages{topic="orders.requested"}')).toBe(1);

    // A dead letter of the order queue (what the worker leaves after its last attempt).
    await stream.append("orders.requested.dead", text("given up"));
    // Scrapes within 100 ms share one reading of the queue: the next fresh one shows it.
    await eventually(
      async () =>
        metric(await scrape(), 'floodgate_queue_dead_letter_messages{topic="orders.requested"}') === 1,
      5_000,
      "the dead letter on /metrics",
    );
  });
});
