/** The value kinds a setting can have, and how text (env or file) becomes a typed value. */
export type SettingType =
  | { readonly kind: "int"; readonly min: number; readonly max: number }
  | { readonly kind: "string"; readonly minLength?: number; readonly pattern?: string }
  | { readonly kind: "boolean" }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "enum-list"; readonly values: readonly string[] }
  | { readonly kind: "url"; readonly schemes: readonly string[] }
  | { readonly kind: "url-list"; readonly schemes: readonly string[] }
  | { readonly kind: "map"; readonly valueKind: "http-url" };

export type SettingValue = number | string | boolean | readonly string[] | ReadonlyMap<string, string>;

/** Thrown with a message that names what is accepted; the caller adds the variable's name. */
export class SettingValueError extends Error {}

export function describeAccepted(type: SettingType): string {
  switch (type.kind) {
    case "int":
      return `an integer from ${type.min} to ${type.max}`;
    case "string":
      if (type.pattern) return `a string matching ${type.pattern}`;
      return type.minLength ? `a string of at least ${type.minLength} characters` : "a string";
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${type.values.join(", ")}`;
    case "enum-list":
      return `a comma-separated list of ${type.values.join(", ")}`;
    case "url":
      return `a URL with scheme ${type.schemes.map((s) => `${s}://`).join(" or ")}`;
    case "url-list":
      return `comma-separated URLs with scheme ${type.schemes.map((s) => `${s}://`).join(" or ")}`;
    case "map":
      return "comma-separated name=http://host:port pairs";
  }
}

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/** The URL with any password replaced, for error messages. */
function redacted(text: string): string {
  return text.replace(/:[^:@/\s]*@/g, ":***@");
}

/**
 * Checks the scheme only: cache URLs name several hosts (`redis-cluster://h:p,h:p`), which the
 * WHATWG URL parser rejects; each adapter parses its own URL when it connects.
 */
function checkUrl(text: string, schemes: readonly string[]): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (!scheme) throw new SettingValueError(`"${redacted(text)}" is not a URL`);
  if (!schemes.includes(scheme)) throw new SettingValueError(`scheme "${scheme}://" is not supported`);
  return text;
}

export function parseSetting(type: SettingType, text: string): SettingValue {
  switch (type.kind) {
    case "int": {
      if (!/^-?\d+$/.test(text.trim())) throw new SettingValueError(`"${text}" is not an integer`);
      const value = Number(text);
      if (value < type.min || value > type.max) throw new SettingValueError(`${value} is out of range`);
      return value;
    }
    case "string":
      if (type.minLength && text.length < type.minLength) throw new SettingValueError("too short");
      if (type.pattern && !new RegExp(type.pattern).test(text))
        throw new SettingValueError(`"${text}" is not accepted`);
      return text;
    case "boolean": {
      const lowered = text.trim().toLowerCase();
      if (lowered === "true" || lowered === "1") return true;
      if (lowered === "false" || lowered === "0") return false;
      throw new SettingValueError(`"${text}" is not a boolean`);
    }
    case "enum":
      if (!type.values.includes(text)) throw new SettingValueError(`"${text}" is not accepted`);
      return text;
    case "enum-list": {
      const items = splitList(text);
      const unknown = items.filter((item) => !type.values.includes(item));
      if (unknown.length > 0) throw new SettingValueError(`unknown: ${unknown.join(", ")}`);
      if (items.length === 0) throw new SettingValueError("the list is empty");
      return items;
    }
    case "url":
      return checkUrl(text, type.schemes);
    case "url-list": {
      const items = splitList(text).map((item) => checkUrl(item, type.schemes));
      if (items.length === 0) throw new SettingValueError("the list is empty");
      return items;
    }
    case "map": {
      const map = new Map<string, string>();
      for (const pair of splitList(text)) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new SettingValueError(`"${pair}" is not name=url`);
        map.set(pair.slice(0, eq).trim(), checkUrl(pair.slice(eq + 1).trim(), ["http", "https"]));
      }
      return map;
    }
  }
}
