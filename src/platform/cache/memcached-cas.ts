import memjs from "memjs";

/**
 * The two binary-protocol calls a compare-and-set needs, which memjs does not offer: a GET that
 * returns the item's CAS value, and a SET that names the CAS value it expects. Built on memjs's
 * `perform`, so they use the client's connections, key hashing and retries like its own calls.
 */

const OPCODE_GET = 0x00;
const OPCODE_SET = 0x01;
const OPCODE_ADD = 0x02;
const STATUS_OK = 0x0000;
const STATUS_NOT_FOUND = 0x0001;
const STATUS_EXISTS = 0x0002;
const CAS_OFFSET = 16;

export type MemcachedClient = memjs.Client<string, Buffer | null>;

export interface CasItem {
  /** null when the key is missing. */
  readonly value: Buffer | null;
  /** The item's CAS value (8 bytes), to hand back to `setIfUnchanged`; null when missing. */
  readonly cas: Buffer | null;
}

export async function gets(client: MemcachedClient, key: string): Promise<CasItem> {
  const response = await call(client, key, OPCODE_GET, Buffer.alloc(0), Buffer.alloc(0), undefined);
  const status = response.header.status;
  if (status === STATUS_NOT_FOUND) return { value: null, cas: null };
  if (status !== STATUS_OK) throw replyError("GETS", status);
  return { value: response.val, cas: Buffer.from(response.header.cas) };
}

/**
 * SET that succeeds only while the item still has CAS value `cas`: the item's new CAS value, or
 * null when it changed or went (expired included).
 */
export async function setIfUnchanged(
  client: MemcachedClient,
  key: string,
  value: string,
  expires: number,
  cas: Buffer,
): Promise<Buffer | null> {
  const response = await call(client, key, OPCODE_SET, storeExtras(expires), Buffer.from(value, "utf8"), cas);
  return storeSucceeded("CAS", response);
}

/** ADD: stores only when the key is missing: the new item's CAS value, or null when it exists. */
export async function addIfMissing(
  client: MemcachedClient,
  key: string,
  value: string,
  expires: number,
): Promise<Buffer | null> {
  const response = await call(
    client,
    key,
    OPCODE_ADD,
    storeExtras(expires),
    Buffer.from(value, "utf8"),
    undefined,
  );
  return storeSucceeded("ADD", response);
}

function storeSucceeded(operation: string, response: memjs.Response): Buffer | null {
  const status = response.header.status;
  if (status === STATUS_OK) return Buffer.from(response.header.cas);
  if (status === STATUS_EXISTS || status === STATUS_NOT_FOUND) return null;
  throw replyError(operation, status);
}

/** Flags (0) and expiry, as SET and ADD take them. */
function storeExtras(expires: number): Buffer {
  const extras = Buffer.alloc(8);
  extras.writeUInt32BE(expires, 4);
  return extras;
}

/** Named like memjs's own reply errors, which the adapter tells apart from connection failures. */
function replyError(operation: string, status: number): Error {
  return new Error(`MemJS ${operation}: status ${status}`);
}

function call(
  client: MemcachedClient,
  key: string,
  opcode: number,
  extras: Buffer,
  value: Buffer,
  cas: Buffer | undefined,
): Promise<memjs.Response> {
  return new Promise((resolve, reject) => {
    client.incrSeq();
    const seq = client.seq;
    const request = memjs.Utils.makeRequestBuffer(opcode, key, extras, value, seq);
    cas?.copy(request, CAS_OFFSET);
    client.perform(key, request, seq, (error: Error | null, response?: memjs.Response) => {
      if (error || !response) reject(error ?? new Error(`memcached: no response to opcode ${opcode}`));
      else resolve(response);
    });
  });
}
