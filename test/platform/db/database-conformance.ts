import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Row } from "../../../src/platform/db/database.js";

export interface ConformanceOptions {
  /**
   * True for PGlite: one session, so transactions must run one after another. A server runs them
   * side by side on separate connections, and the suite checks their isolation instead.
   */
  readonly singleSession: boolean;
}

/**
 * The behaviour every Database adapter must share (see src/platform/db/database.ts). Each test
 * uses its own tables, so the tests can share one database.
 */
export function describeDatabaseConformance(
  name: string,
  open: () => Promise<Database>,
  options: ConformanceOptions,
): void {
  describe(`Database conformance: ${name}`, () => {
    let db: Database;
    let tableCounter = 0;
    /** A table name no other test in this run uses. */
    const freshTable = (purpose: string) => `conformance_${purpose}_${++tableCounter}_${process.pid}`;

    beforeAll(async () => {
      db = await open();
    });

    afterAll(async () => {
      await db?.close();
    });

    describe("parameters", () => {
      it("binds values verbatim, including quotes and SQL-looking content", async () => {
        const table = freshTable("binding");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, body text NOT NULL)`);
        const hostile = `O'Brien "quoted" \\ backslash'); DROP TABLE ${table}; --`;
        await db.query(`INSERT INTO ${table} (id, body) VALUES ($1, $2)`, [1, hostile]);
        const rows = await db.query<{ body: string }>(`SELECT body FROM ${table} WHERE id = $1`, [1]);
        expect(rows).toEqual([{ body: hostile }]);
        // The table survived: the content was data, never SQL.
        const [count] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        expect(count?.n).toBe(1);
      });

      it("treats a parameter as one value, never as SQL", async () => {
        const rows = await db.query("SELECT 1 AS one WHERE 'a' = $1", ["a' OR '1'='1"]);
        expect(rows).toEqual([]);
      });

      it("runs exactly one statement per query, with or without parameters", async () => {
        await expect(db.query("SELECT 1; SELECT 2")).rejects.toThrow();
        await expect(db.query("SELECT $1::int; SELECT 2", [1])).rejects.toThrow();
      });

      it("binds arrays for unnest, null, booleans, Buffers and Dates", async () => {
        const rows = await db.query<{ id: string; label: string }>(
          "SELECT * FROM unnest($1::bigint[], $2::text[]) AS u(id, label) ORDER BY id",
          [
            ["9223372036854775806", "2"],
            ["big", "two"],
          ],
        );
        expect(rows).toEqual([
          { id: "2", label: "two" },
          { id: "9223372036854775806", label: "big" },
        ]);
        const [values] = await db.query(
          "SELECT $1::text IS NULL AS is_null, $2::bool AS flag, $3::bytea AS bytes, $4::timestamptz AS at",
          [null, true, Buffer.from([0, 1, 254, 255]), new Date("2024-05-01T10:00:00.250Z")],
        );
        expect(values).toEqual({
          is_null: true,
          flag: true,
          bytes: Buffer.from([0, 1, 254, 255]),
          at: "2024-05-01T10:00:00.250000Z",
        });
      });
    });

    describe("row values", () => {
      it("returns int8 as exact strings, both ends of its range included", async () => {
        const table = freshTable("int8");
        await db.exec(`CREATE TABLE ${table} (id int8 PRIMARY KEY)`);
        const extremes = ["9223372036854775807", "-9223372036854775808", "7234567890123456789", "1"];
        for (const id of extremes) await db.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        const rows = await db.query<{ id: unknown }>(`SELECT id FROM ${table} ORDER BY id`);
        expect(rows.map((row) => row.id)).toEqual([
          "-9223372036854775808",
          "1",
          "7234567890123456789",
          "9223372036854775807",
        ]);
        const [exact] = await db.query<{ id: unknown }>(`SELECT id FROM ${table} WHERE id = $1`, [
          "9223372036854775807",
        ]);
        expect(exact?.id).toBe("9223372036854775807");
      });

      it("returns int8 arrays and aggregates as strings, int4 as numbers, numeric as strings", async () => {
        const [row] = await db.query(
          `SELECT ARRAY[9007199254740993, NULL, -1]::int8[] AS ids, count(*) AS n, 42::int4 AS small,
                  2::int2 AS tiny, 1.5::float8 AS ratio, 12345678901234567890.123::numeric AS amount`,
        );
        expect(row).toEqual({
          ids: ["9007199254740993", null, "-1"],
          n: "1",
          small: 42,
          tiny: 2,
          ratio: 1.5,
          amount: "12345678901234567890.123",
        });
      });

      it("returns timestamps as fixed-width ISO strings in UTC, microseconds kept", async () => {
        const [row] = await db.query(
          `SELECT '2024-05-01 12:00:00.123456+02'::timestamptz AS with_zone,
                  '2024-05-01 12:00:00'::timestamptz AS whole_second,
                  '2024-05-01 12:00:00.5'::timestamp AS without_zone,
                  '2024-05-01'::date AS day,
                  'infinity'::timestamptz AS forever,
                  ARRAY['2024-01-01 00:00:00+00', NULL]::timestamptz[] AS several`,
        );
        expect(row).toEqual({
          with_zone: "2024-05-01T10:00:00.123456Z",
          whole_second: "2024-05-01T12:00:00.000000Z",
          without_zone: "2024-05-01T12:00:00.500000",
          day: "2024-05-01",
          forever: "infinity",
          several: ["2024-01-01T00:00:00.000000Z", null],
        });
        const [now] = await db.query<{ now: string }>("SELECT now() AS now");
        expect(now?.now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
        expect(Math.abs(Date.parse(now!.now) - Date.now())).toBeLessThan(60_000);
      });

      it("round-trips a read timestamp exactly when it is bound again", async () => {
        const table = freshTable("timestamps");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, at timestamptz NOT NULL)`);
        await db.query(`INSERT INTO ${table} VALUES (1, '2024-05-01 12:00:00.123456+00')`);
        const [read] = await db.query<{ at: string }>(`SELECT at FROM ${table}`);
        const found = await db.query(`SELECT id FROM ${table} WHERE at = $1`, [read!.at]);
        expect(found).toEqual([{ id: 1 }]);
      });

      it("returns json as parsed values, bytea as Buffer, bool as boolean, NULL as null", async () => {
        const [row] = await db.query(
          `SELECT '{"ids":["1"],"n":2}'::jsonb AS doc, '\\x00ff'::bytea AS bytes, true AS yes, NULL::text AS nothing,
                  $1::jsonb AS bound`,
          [JSON.stringify([1, { a: "b" }])],
        );
        expect(row).toEqual({
          doc: { ids: ["1"], n: 2 },
          bytes: Buffer.from([0, 255]),
          yes: true,
          nothing: null,
          bound: [1, { a: "b" }],
        });
      });

      it("runs sessions in UTC with ISO date output, whatever the server or machine default", async () => {
        const [settings] = await db.query(
          "SELECT current_setting('TimeZone') AS zone, current_setting('DateStyle') AS style",
        );
        expect(settings).toEqual({ zone: "UTC", style: "ISO, MDY" });
      });

      it("returns rows as plain objects", async () => {
        const rows = await db.query("SELECT 1 AS a, 'b' AS b");
        expect(rows).toHaveLength(1);
        expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
        expect(Object.keys(rows[0]!)).toEqual(["a", "b"]);
      });

      it("reports Postgres errors with their SQLSTATE code", async () => {
        const table = freshTable("errors");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await db.query(`INSERT INTO ${table} VALUES (1)`);
        await expect(db.query(`INSERT INTO ${table} VALUES (1)`)).rejects.toMatchObject({ code: "23505" });
      });
    });

    describe("transactions", () => {
      it("commits when the work resolves and returns its result", async () => {
        const table = freshTable("commit");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        const result = await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
          await tx.query(`INSERT INTO ${table} VALUES ($1)`, [2]);
          return (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n;
        });
        expect(result).toBe(2);
        expect(await db.query(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
      });

      it("rolls back and rethrows the same error when the work throws", async () => {
        const table = freshTable("rollback");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        const failure = new Error("work failed");
        await expect(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} VALUES (1)`);
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await db.query(`SELECT id FROM ${table}`)).toEqual([]);
        // The database is usable afterwards (no transaction left open).
        await db.query(`INSERT INTO ${table} VALUES (2)`);
        expect(await db.query(`SELECT id FROM ${table}`)).toEqual([{ id: 2 }]);
      });

      it("rejects, and keeps nothing, when a failed statement's error was caught inside the work", async () => {
        const table = freshTable("aborted");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await expect(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} VALUES (1)`);
            await tx.query(`INSERT INTO ${table} VALUES (1)`).catch(() => undefined);
          }),
        ).rejects.toThrow();
        expect(await db.query(`SELECT id FROM ${table}`)).toEqual([]);
      });

      it("runs exec scripts inside the transaction", async () => {
        const table = freshTable("tx_exec");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await expect(
          db.transaction(async (tx) => {
            await tx.exec(`INSERT INTO ${table} VALUES (1); INSERT INTO ${table} VALUES (2);`);
            throw new Error("undo the script");
          }),
        ).rejects.toThrow("undo the script");
        expect(await db.query(`SELECT id FROM ${table}`)).toEqual([]);
      });

      it("refuses the handle once the transaction has ended", async () => {
        let leaked: { query(text: string): Promise<unknown> } | undefined;
        await db.transaction(async (tx) => {
          leaked = tx;
        });
        await expect(leaked!.query("SELECT 1")).rejects.toThrow(/after its transaction ended/);
      });

      it("refuses the Database itself inside its own transaction instead of deadlocking", async () => {
        await expect(db.transaction(() => db.query("SELECT 1"))).rejects.toThrow(
          /inside one of its own transactions/,
        );
        await expect(db.transaction(() => db.transaction(async () => 1))).rejects.toThrow(
          /inside one of its own transactions/,
        );
        // Work the transaction left running may use the Database once it has ended.
        let background: Promise<Row[]> | undefined;
        await db.transaction(async () => {
          background = new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() =>
            db.query("SELECT 1 AS one"),
          );
        });
        await expect(background).resolves.toEqual([{ one: 1 }]);
      });

      if (options.singleSession) {
        it("runs concurrent transactions one after another, never interleaved", async () => {
          const table = freshTable("serial");
          await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, value int NOT NULL)`);
          await db.query(`INSERT INTO ${table} VALUES (1, 0)`);
          const events: string[] = [];
          const increments = Array.from({ length: 8 }, (_, index) =>
            db.transaction(async (tx) => {
              events.push(`begin ${index}`);
              const [row] = await tx.query<{ value: number }>(`SELECT value FROM ${table} WHERE id = 1`);
              // Yield to the event loop mid-transaction: other transactions get every chance to cut in.
              await new Promise((resolve) => setTimeout(resolve, 5));
              await tx.query(`UPDATE ${table} SET value = $1 WHERE id = 1`, [row!.value + 1]);
              events.push(`end ${index}`);
            }),
          );
          await Promise.all(increments);
          for (let position = 0; position < events.length; position += 2) {
            const begun = events[position]!.replace("begin ", "");
            expect(events[position + 1]).toBe(`end ${begun}`);
          }
          expect(await db.query(`SELECT value FROM ${table}`)).toEqual([{ value: 8 }]);
        });
      } else {
        it("isolates concurrent transactions, each on its own connection", async () => {
          const table = freshTable("isolated");
          await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, value int NOT NULL)`);
          await db.query(`INSERT INTO ${table} VALUES (1, 0)`);
          const backendPids = new Set<number>();
          const increments = Array.from({ length: 8 }, () =>
            db.transaction(async (tx) => {
              const [row] = await tx.query<{ value: number; pid: number }>(
                `SELECT value, pg_backend_pid() AS pid FROM ${table} WHERE id = 1 FOR UPDATE`,
              );
              backendPids.add(row!.pid);
              await new Promise((resolve) => setTimeout(resolve, 5));
              await tx.query(`UPDATE ${table} SET value = $1 WHERE id = 1`, [row!.value + 1]);
            }),
          );
          await Promise.all(increments);
          // Row locks only serialise these if every statement of a transaction is on one session.
          expect(await db.query(`SELECT value FROM ${table}`)).toEqual([{ value: 8 }]);
          expect(backendPids.size).toBeGreaterThan(1);
        });
      }
    });

    describe("exec", () => {
      it("runs a multi-statement script", async () => {
        const table = freshTable("script");
        await db.exec(`
          CREATE TABLE ${table} (id int PRIMARY KEY, note text);
          INSERT INTO ${table} VALUES (1, 'semi;colon');
          INSERT INTO ${table} VALUES (2, 'two');
          UPDATE ${table} SET note = note || '!' WHERE id = 2;
        `);
        expect(await db.query(`SELECT id, note FROM ${table} ORDER BY id`)).toEqual([
          { id: 1, note: "semi;colon" },
          { id: 2, note: "two!" },
        ]);
      });

      it("applies none of a script whose later statement fails", async () => {
        const table = freshTable("script_fail");
        await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
        await expect(
          db.exec(`INSERT INTO ${table} VALUES (1); INSERT INTO ${table} VALUES (1);`),
        ).rejects.toThrow();
        expect(await db.query(`SELECT id FROM ${table}`)).toEqual([]);
      });
    });
  });
}
