import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderConfigurationDoc, renderErrorsDoc } from "../../src/cli/reference-docs.js";

describe("reference docs stay in step with the code", () => {
  it("docs/configuration.md matches src/platform/config/settings.ts (run `npx floodgate docs --write`)", () => {
    expect(readFileSync("docs/configuration.md", "utf8")).toBe(renderConfigurationDoc());
  });

  it("docs/errors.md matches the error catalogue (run `npx floodgate docs --write`)", () => {
    expect(readFileSync("docs/errors.md", "utf8")).toBe(renderErrorsDoc());
  });
});
