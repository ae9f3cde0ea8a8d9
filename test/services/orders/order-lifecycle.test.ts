import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  isAllowed,
  lifecycleDiagram,
  ORDER_TRANSITIONS,
  statusesBefore,
} from "../../../src/services/orders/order-lifecycle.js";

describe("the order state machine", () => {
  it("is drawn in docs/order-lifecycle.md exactly as the code defines it", () => {
    const doc = readFileSync(new URL("../../../docs/order-lifecycle.md", import.meta.url), "utf8");
    const drawn = /```mermaid\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(drawn).toBe(lifecycleDiagram());
    for (const { from, to, cause } of ORDER_TRANSITIONS)
      expect(drawn).toContain(`${from} --> ${to}: ${cause}`);
  });

  it("allows only the transitions it names, each with its cause", () => {
    expect(isAllowed("created", "paid", "payment_succeeded")).toBe(true);
    expect(isAllowed("cancelled", "paid", "payment_succeeded")).toBe(false);
    expect(isAllowed("created", "shipped", "shipment_created")).toBe(false);
    expect(isAllowed("completed", "cancelled", "payment_timeout")).toBe(false);
    expect(statusesBefore("refunded", "refunded").sort()).toEqual(["completed", "paid", "shipped"]);
    expect(statusesBefore("paid", "refunded")).toEqual([]);
  });
});
