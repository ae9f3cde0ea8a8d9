import { type ShardRouter, virtualShardForKey } from "../../platform/db/shard-router.js";
import { shardOfSnowflake } from "../../platform/ids/snowflake.js";
import type { InventoryApi } from "../inventory/api.js";
import { compareIdsDescending, type Order, type OrderStatus } from "./order.js";
import { OrderStore } from "./order-store.js";

/**
 * Reads of orders: by id (routed by the shard in the id), by user (the user's shard), and across
 * all shards (scatter, then merge newest-first under one global limit).
 */
export class OrderQueries {
  private readonly stores: Map<unknown, OrderStore>;

  constructor(
    private readonly databases: ShardRouter,
    private readonly inventory: InventoryApi,
  ) {
    this.stores = new Map(databases.all().map((db) => [db, new OrderStore(db)]));
  }

  async byId(id: string): Promise<Order | undefined> {
    const shard = shardOfSnowflake(id);
    if (shard === undefined) return undefined;
    const stored = await this.storeOf(shard).byId(id);
    if (stored) return stored;
    // Accepted but not yet written by a worker: the live reservation is the order's only trace.
    const reservation = await this.inventory.reservation({ orderId: id });
    if (!reservation) return undefined;
    return {
      id,
      userId: reservation.userId,
      sku: reservation.sku,
      quantity: reservation.quantity,
      priceCents: null,
      currency: null,
      status: "pending",
      history: [{ status: "pending", at: reservation.reservedAt, cause: "accepted" }],
      acceptedAt: reservation.reservedAt,
      updatedAt: reservation.reservedAt,
      paymentDueAt: null,
    };
  }

  ofUser(userId: string, limit: number, beforeId: string | undefined): Promise<Order[]> {
    return this.storeOf(virtualShardForKey(userId)).byUser(userId, limit, beforeId);
  }

  async all(status: OrderStatus | undefined, limit: number, beforeId: string | undefined): Promise<Order[]> {
    if (status === "pending") return [];
    const pages = await Promise.all(
      [...this.stores.values()].map((store) => store.byStatus(status, limit, beforeId)),
    );
    return pages
      .flat()
      .sort((a, b) => compareIdsDescending(a.id, b.id))
      .slice(0, limit);
  }

  private storeOf(virtualShard: number): OrderStore {
    return this.stores.get(this.databases.forVirtualShard(virtualShard))!;
  }
}
