import fc from "fast-check";

/**
 * Generators of hostile request parts for the route fuzzer. Bodies are generated as JSON *text*,
 * not as values, so that what no JS object can hold still reaches the server: own `__proto__`
 * keys, duplicate keys, numbers beyond a double (1e309, 2^53 + 1 written out), nesting thousands
 * deep.
 */

const SQL_LIKE = [
  "' OR '1'='1",
  "'; DROP TABLE orders.orders;--",
  "1; SELECT pg_sleep(10)--",
  '" OR 1=1 --',
  "%' UNION SELECT NULL,NULL--",
  "$1",
  "\\'; --",
  "1' AND (SELECT COUNT(*) FROM pg_catalog.pg_tables) > 0 --",
];

const ODD_UNICODE = [
  "\u0000",
  "a\u0000b",
  "\uFEFF",
  "\u202Eevil",
  "\uD800",
  "\uDFFF\uD800",
  "𝕏𝕐",
  "e\u0301",
  "İı",
  "\u2028\u2029",
  "\uFFFF",
  "🙂".repeat(64),
  "ﬀ",
  "Ω≈ç√",
  "\u0085",
];

const SPECIAL = [
  "",
  " ",
  ".",
  "..",
  "../../../etc/passwd",
  "..\\..\\windows",
  "%00",
  "%2e%2e%2f",
  "null",
  "undefined",
  "NaN",
  "Infinity",
  "-1",
  "0",
  "0x10",
  "1e308",
  "9007199254740993",
  "-9223372036854775809",
  "true",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "prototype",
  "<script>alert(1)</script>",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell probe, meant literally
  "${jndi:ldap://x/a}",
  "{{7*7}}",
  "*",
  "?a=b",
  "#",
  "\r\nX-Injected: 1",
  "2026-02-30T25:61:61Z",
  "0000-01-01T00:00:00Z",
  "275760-09-13T00:00:00.001Z",
];

/** Object keys that attack prototypes or look like query operators. */
const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "__defineGetter__",
  "$where",
  "$gt",
  "",
  "a.b",
  "0",
];

/** A hostile string: SQL-looking, odd Unicode, special, random, very long, or one of `pool`. */
export function hostileString(pool: readonly string[] = []): fc.Arbitrary<string> {
  const known = [...SQL_LIKE, ...ODD_UNICODE, ...SPECIAL, ...pool];
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...known), fc.constantFrom(...known)).map(([a, b]) => `${a}${b}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("a", "9", "🙂", "'", "%", "\u0000"), fc.integer({ min: 101, max: 20_000 }))
        .map(([unit, n]) => unit.repeat(n)),
    },
  );
}

/** Numbers as JSON text: past a double, past 2^53, negative, fractional, tiny. */
export const hostileNumberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "1.0",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9007199254740993",
    "-9007199254740993",
    "123456789012345678901234567890",
    "1e308",
    "-1e308",
    "1e309",
    "-1e309",
    "1e-400",
    "5e-324",
    "1E2",
  ),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
);

const scalarText = (pool: readonly string[]) =>
  fc.oneof(
    fc.constantFrom("null", "true", "false"),
    hostileNumberText,
    hostileString(pool).map((s) => JSON.stringify(s)),
  );

const keyText = (pool: readonly string[]) =>
  fc.oneof(fc.constantFrom(...HOSTILE_KEYS), hostileString(pool)).map((k) => JSON.stringify(k));

/** Any JSON text: wrong types, hostile keys (duplicates included), a little nesting. */
export function hostileJson(pool: readonly string[] = []): fc.Arbitrary<string> {
  const { value } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      scalarText(pool),
      tie("array"),
      tie("object"),
    ),
    array: fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
    object: fc
      .array(fc.tuple(keyText(pool), tie("value")), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}`),
  }));
  return fc.oneof(
    { weight: 6, arbitrary: value },
    { weight: 1, arbitrary: deepJson },
    { weight: 1, arbitrary: hugeArray },
  );
}

/** Nesting thousands deep, under and over what a recursive walker survives. */
const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 64, max: 8_000 }), fc.constantFrom("array", "object", "proto"))
  .map(([depth, kind]) => {
    if (kind === "array") return `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const key = kind === "proto" ? "__proto__" : "a";
    return `${`{"${key}":`.repeat(depth)}1${"}".repeat(depth)}`;
  });

/** Many elements: an items list a handler might loop over. */
const hugeArray: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 100, max: 3_000 }), fc.constantFrom("1", '"x"', "{}", "null", "1e308"))
  .map(([n, item]) => `[${Array.from({ length: n }, () => item).join(",")}]`);

/** A JSON Schema, as much of one as the routes use. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly format?: string;
  readonly pattern?: string;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
}

/**
 * JSON text that follows `schema` closely enough to get past validation often (right keys, right
 * types, values at and beyond the bounds, known ids) and breaks it the rest of the time: the
 * inputs that reach handlers are the ones that find bugs.
 */
export function nearSchemaJson(
  schema: JsonSchema | undefined,
  pool: readonly string[],
): fc.Arbitrary<string> {
  const wrong = hostileJson(pool);
  if (!schema) return wrong;
  return fc.oneof({ weight: 4, arbitrary: shaped(schema, pool, 0) }, { weight: 1, arbitrary: wrong });
}

function shaped(schema: JsonSchema, pool: readonly string[], depth: number): fc.Arbitrary<string> {
  const wrong = depth > 3 ? scalarText(pool) : hostileJson(pool);
  if (schema.const !== undefined) return fc.constant(JSON.stringify(schema.const));
  if (schema.enum) return fc.constantFrom(...schema.enum.map((v) => JSON.stringify(v)));
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0) {
    return fc.oneof(...alternatives.map((s) => shaped(s, pool, depth + 1)));
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object": {
      const properties = Object.entries(schema.properties ?? {});
      const entries = properties.map(([key, sub]) =>
        fc
          .option(
            fc.oneof({ weight: 5, arbitrary: shaped(sub, pool, depth + 1) }, { weight: 1, arbitrary: wrong }),
            { freq: 6 },
          )
          .map((value) => (value === null ? [] : [`${JSON.stringify(key)}:${value}`])),
      );
      // An extra key (a hostile one) in one object of four: additionalProperties is tried, but
      // most objects keep the schema's keys only and get past validation.
      const extra = fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.tuple(keyText(pool), scalarText(pool)).map(([k, v]) => `${k}:${v}`) },
      );
      return fc
        .tuple(fc.tuple(...entries), extra)
        .map(([present, more]) => `{${[...present.flat(), ...(more ? [more] : [])].join(",")}}`);
    }
    case "array":
      return fc
        .array(schema.items ? shaped(schema.items, pool, depth + 1) : wrong, { maxLength: 5 })
        .map((items) => `[${items.join(",")}]`);
    case "integer":
    case "number":
      return fc.oneof(
        { weight: 3, arbitrary: boundedNumber(schema, type === "integer").map(String) },
        { weight: 1, arbitrary: hostileNumberText },
      );
    case "boolean":
      return fc.constantFrom("true", "false");
    case "string":
      return stringFor(schema, pool).map((s) => JSON.stringify(s));
    default:
      return wrong;
  }
}

function boundedNumber(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000;
  const max = schema.maximum ?? 1_000_000;
  const inside = [min, max, min + 1].filter(Number.isFinite);
  const outside = [min - 1, max + 1].filter(Number.isFinite);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...inside) },
    { weight: 1, arbitrary: fc.constantFrom(...outside) },
    integer
      ? fc.integer({
          min: Math.max(min, Number.MIN_SAFE_INTEGER),
          max: Math.min(max, Number.MAX_SAFE_INTEGER),
        })
      : fc.double({ min, max, noNaN: true }),
  );
}

/** A string for a schema's string slot: a known value, a date for date-times, or a hostile one. */
export function stringFor(schema: JsonSchema | undefined, pool: readonly string[]): fc.Arbitrary<string> {
  if (schema?.enum) return fc.constantFrom(...schema.enum.map(String));
  const arbitraries: fc.WeightedArbitrary<string>[] = [{ weight: 2, arbitrary: hostileString(pool) }];
  if (pool.length > 0) arbitraries.push({ weight: 4, arbitrary: fc.constantFrom(...pool) });
  if (schema?.format === "date-time") {
    arbitraries.push(
      {
        weight: 1,
        arbitrary: fc
          .date({
            min: new Date(-8_640_000_000_000_000),
            max: new Date(8_640_000_000_000_000),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString()),
      },
      {
        weight: 3,
        arbitrary: fc
          .integer({ min: -3_600_000, max: 86_400_000 })
          .map((ms) => new Date(Date.now() + ms).toISOString()),
      },
    );
  }
  return fc.oneof(...arbitraries);
}

/** One path segment: percent-encoded hostile text, a known id, or a raw malformed encoding. */
export function pathSegment(pool: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: hostileString(pool).map((s) => encodeURIComponent(toWellFormed(s))) },
    { weight: 2, arbitrary: fc.constantFrom(...(pool.length > 0 ? pool : ["1"])) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "..",
        ".",
        "%",
        "%00",
        "%2e%2e",
        "%2F",
        "%ZZ",
        "%E0%A4%A",
        "%C0%AE%C0%AE",
        "%ED%A0%80",
        "%FF",
        "a;b=c",
        "1234567890".repeat(30),
      ),
    },
  );
}

/** A query string: the schema's parameters with hostile values, hostile keys, malformed encodings. */
export function queryString(schema: JsonSchema | undefined, pool: readonly string[]): fc.Arbitrary<string> {
  const names = Object.keys(schema?.properties ?? {});
  const value = fc.oneof(
    hostileNumberText,
    hostileString(pool).map((s) => encodeURIComponent(toWellFormed(s))),
    fc.constantFrom("%", "%00", "%zz", "", "a=b=c", "%E0%A4%A"),
  );
  const key = fc.oneof(
    { weight: 3, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant("limit") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "__proto__",
        "constructor",
        "prototype",
        "a[b]",
        "__proto__[admin]",
        "",
        "%00",
      ),
    },
  );
  return fc
    .array(fc.tuple(key, value), { maxLength: 4 })
    .map((pairs) => (pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`));
}

/**
 * Text a header can carry on the wire: what HTTP/1.1 allows as bytes (UTF-8 arrives as latin1),
 * without the CR, LF and NUL a parser refuses before any route sees them (those are sent raw, over
 * a socket, by the wire-level property).
 */
export function headerValue(pool: readonly string[]): fc.Arbitrary<string> {
  return hostileString(pool).map(asHeaderValue);
}

/** A string as a header value's bytes: UTF-8 read as latin1, without CR, LF and NUL. */
export function asHeaderValue(s: string): string {
  return (
    Buffer.from(toWellFormed(s), "utf8")
      .toString("latin1")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing exactly those
      .replace(/[\r\n\u0000]/g, "")
  );
}

/** Lone surrogates replaced, as encodeURIComponent and Buffer need (a JSON body keeps them). */
export function toWellFormed(s: string): string {
  return s.replace(/[\uD800-\uDFFF]/g, (c, i: number) => {
    const code = c.charCodeAt(0);
    if (code <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      return next >= 0xdc00 && next <= 0xdfff ? c : "\uFFFD";
    }
    const previous = s.charCodeAt(i - 1);
    return previous >= 0xd800 && previous <= 0xdbff ? c : "\uFFFD";
  });
}
