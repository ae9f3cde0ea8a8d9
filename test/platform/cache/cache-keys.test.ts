import { describe, expect, it } from "vitest";
import { versionedKey } from "../../../src/platform/cache/cache-keys.js";

describe("versionedKey", () => {
  it("puts namespace and id in one hash tag, the version after it", () => {
    expect(versionedKey("product", "42")).toBe("{product:42}");
    expect(versionedKey("product", "42", 7)).toBe("{product:42}:v7");
    expect(versionedKey("sku", "FLASH-TEE", "2024-06-01.1")).toBe("{sku:FLASH-TEE}:v2024-06-01.1");
  });

  it("encodes ids so braces and colons cannot end the tag early or make keys collide", () => {
    expect(versionedKey("product", "a}b{c")).toBe("{product:a%7Db%7Bc}");
    expect(versionedKey("a", "b:c")).not.toBe(versionedKey("a-b", "c"));
    expect(versionedKey("product", "x}:v1")).not.toBe(versionedKey("product", "x", 1));
  });

  it("refuses namespaces and versions that would break the format", () => {
    expect(() => versionedKey("Product", "1")).toThrow(/namespace/);
    expect(() => versionedKey("a:b", "1")).toThrow(/namespace/);
    expect(() => versionedKey("product", "1", -1)).toThrow(/version/);
    expect(() => versionedKey("product", "1", 1.5)).toThrow(/version/);
    expect(() => versionedKey("product", "1", "v}1")).toThrow(/version/);
  });
});
