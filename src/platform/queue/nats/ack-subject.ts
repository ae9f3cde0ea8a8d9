/**
 * What the server tells a pull consumer about a delivery, encoded in its reply (ack) subject:
 *
 *   v1: $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>
 *   v2: $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>
 *       .<timestamp>.<pending>[.<random>]
 *
 * The client library parses this too, but only for messages it fetched itself; this adapter
 * issues its own pull requests (see pull-request.ts) and reads the two numbers it needs here.
 */
export interface AckSubjectInfo {
  /** How many times the server has delivered this message to the consumer, this time included. */
  readonly deliveryCount: number;
  readonly streamSequence: number;
}

const ACK_PREFIX = "$JS.ACK.";

export function isAckSubject(subject: string | undefined): subject is string {
  return subject?.startsWith(ACK_PREFIX) === true;
}

export function parseAckSubject(subject: string): AckSubjectInfo {
  const tokens = subject.split(".");
  // v1 has exactly 9 tokens; v2 has 11 or 12 and puts domain and account hash after "$JS.ACK".
  const offset = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  const deliveryCount = Number(tokens[offset]);
  const streamSequence = Number(tokens[offset + 1]);
  if (offset < 0 || !Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSequence)) {
    throw new Error(`Unexpected JetStream ack subject ${JSON.stringify(subject)}`);
  }
  return { deliveryCount, streamSequence };
}
