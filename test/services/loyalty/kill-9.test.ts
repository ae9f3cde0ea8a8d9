import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../../src/platform/auth/tokens.js";
import type { DomainEvent } from "../../../src/platform/events/domain-event.js";
import { ORDER_EVENTS_TOPIC } from "../../../src/services/orders/order-events.js";
import type { ChildServer } from "../../support/child-server.js";
import { serverAvailable } from "../../support/infra.js";
import { eventually } from "../../support/test-server.js";
import {
  newOrder,
  type OrderFacts,
  orderEvent,
  publishOrderEvents,
} from "../notifications/lifecycle-events.js";
import {
  openServiceProcess,
  SERVICE_PROCESS_SECRET,
  type ServiceProcess,
} from "../notifications/service-process.js";

const ORDERS = 300;
const REFUNDED = 60;
const BUYERS = 30;

/**
 * `kill -9` of the loyalty process while it applies a stream of completions and refunds, each
 * event delivered twice and the completions also re-published under fresh ids: afterwards every
 * order has exactly one award, every refunded one exactly one reversal, and the balances add up.
 */
describe("loyalty process killed with kill -9 mid-chain", async () => {
  const up = (await serverAvailable("nats")) && (await serverAvailable("postgres"));
  let service: ServiceProcess;
  let child: ChildServer;

  beforeAll(async () => {
    if (!up) return;
    service = await openServiceProcess("loyalty");
    child = await service.start();
  }, 120_000);
  afterAll(async () => service?.close());

  it.skipIf(!up)(
    "leaves one points award per order, and one reversal per refund",
    async () => {
      // 12.34 to 41.99 EUR: 12 to 41 points each, at the default 1 point per euro.
      const orders: OrderFacts[] = Array.from({ length: ORDERS }, (_, i) =>
        newOrder(`kill-buyer-${i % BUYERS}`, 1234 + (i % 30) * 100 + (i % 7), 1),
      );
      const completion = (order: OrderFacts) => orderEvent("order.completed", order, {});
      const refund = (order: OrderFacts) =>
        orderEvent("order.refunded", order, { paymentId: `pay_${order.orderId}`, from: "completed" });
      const deliveries = (make: () => DomainEvent<unknown>) => {
        const event = make();
        return [event, event, make()];
      };
      const awards = () =>
        service
          .query<{ n: string }>("SELECT count(*) AS n FROM loyalty.points_entries")
          .then((rows) => Number(rows[0]!.n));

      const half = ORDERS / 2;
      await publishOrderEvents(
        service.stream,
        orders.slice(0, half).flatMap((order) => deliveries(() => completion(order))),
      );
      await eventually(async () => (await awards()) >= 40, 30_000, "the first awards");
      await service.killHard();
      const atKill = await awards();

      await publishOrderEvents(
        service.stream,
        orders.slice(half).flatMap((order) => deliveries(() => completion(order))),
      );
      await publishOrderEvents(
        service.stream,
        orders.slice(0, REFUNDED).flatMap((order) => deliveries(() => refund(order))),
      );
      child = await service.start();
      let have = await awards();
      await eventually(
        async () => {
          have = await awards();
          return have === ORDERS + REFUNDED;
        },
        90_000,
        `${ORDERS} awards and ${REFUNDED} reversals`,
      ).catch((error: Error) => {
        throw new Error(`${error.message} (have ${have})\n${service.output()}`);
      });
      // Let everything still queued be handled too before counting: the duplicates, and the
      // completions the killed process had fetched, redelivered once their ack wait runs out (by
      // then their orders' refunds, published later, went through).
      const lag = async () =>
        (await service.stream.stats(ORDER_EVENTS_TOPIC)).groups.find((g) => g.group === "loyalty.on-orders")
          ?.lag;
      await eventually(async () => (await lag()) === 0, 90_000, "every order event to be acked");
      console.log(`kill -9 after ${atKill} of ${ORDERS + REFUNDED} points entries`);

      const entries = await service.query<{
        order_id: string;
        kind: string;
        points: number;
        user_id: string;
      }>("SELECT order_id, kind, points, user_id FROM loyalty.points_entries");
      expect(entries).toHaveLength(ORDERS + REFUNDED);
      const pointsOf = (order: OrderFacts) => Math.floor(order.amountCents / 100);
      for (const [index, order] of orders.entries()) {
        const mine = entries.filter((entry) => entry.order_id === order.orderId);
        expect(mine.filter((entry) => entry.kind === "award").map((entry) => entry.points)).toEqual([
          pointsOf(order),
        ]);
        expect(mine.filter((entry) => entry.kind === "reversal").map((entry) => entry.points)).toEqual(
          index < REFUNDED ? [-pointsOf(order)] : [],
        );
      }

      // And each buyer's balance, as GET /me/points answers it.
      const tokens = new TokenService(SERVICE_PROCESS_SECRET);
      for (const buyer of [0, 1, BUYERS - 1]) {
        const userId = `kill-buyer-${buyer}`;
        const expected = orders
          .map((order, index) => (order.userId === userId && index >= REFUNDED ? pointsOf(order) : 0))
          .reduce((sum, points) => sum + points, 0);
        const answer = await fetch(`${child.url}/me/points`, {
          headers: { authorization: `Bearer ${tokens.issue({ userId })}` },
        });
        expect(answer.status).toBe(200);
        expect(((await answer.json()) as { balance: number }).balance).toBe(expected);
      }
    },
    240_000,
  );
});
