import { expect } from "vitest";
import type { TestServer } from "../../support/test-server.js";

/** An email as GET /admin/mail lists it. */
export interface ListedMail {
  id: string;
  to: string;
  subject: string;
  kind: string;
  orderId: string;
  status: "pending" | "sent";
  attempts: number;
  lastError: string | null;
  recordedAt: string;
  sentAt: string | null;
  messageId: string;
  raw: string | null;
}

/** Every email the server recorded, newest first, following the cursor to the end. */
export async function listMail(server: TestServer, query = ""): Promise<ListedMail[]> {
  const all: ListedMail[] = [];
  let cursor: string | null = null;
  do {
    const path: string = `/admin/mail?limit=100${query}${cursor ? `&cursor=${cursor}` : ""}`;
    const answer = await server.request<{ messages: ListedMail[]; nextCursor: string | null }>("GET", path, {
      user: "ops",
      admin: true,
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    all.push(...answer.body.messages);
    cursor = answer.body.nextCursor;
  } while (cursor);
  return all;
}
