/**
 * Redis keys of the adapter. Topic and group names may not contain ":", the separator used
 * below, so keys of different topics and groups can never collide:
 *
 *   <prefix><topic>                     the topic's stream
 *   <prefix><topic>:dedup:<dedupId>     marker of a recent dedupId (expires with the window)
 *   <prefix><topic>:delayed:<group>     ZSET of the group's nak'ed entry ids -> due time (ms)
 */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

export function assertTopicName(topic: string): void {
  if (!SAFE_NAME.test(topic)) {
    throw new TypeError(
      `Invalid topic name ${JSON.stringify(topic)}: use 1-200 letters, digits, "_", "-" or ".", ` +
        'not starting with "." or "-"',
    );
  }
}

export function assertGroupName(group: string): void {
  if (!SAFE_NAME.test(group)) {
    throw new TypeError(
      `Invalid consumer group name ${JSON.stringify(group)}: use 1-200 letters, digits, "_", "-" or ".", ` +
        'not starting with "." or "-"',
    );
  }
}

export function streamKey(prefix: string, topic: string): string {
  assertTopicName(topic);
  return `${prefix}${topic}`;
}

export function dedupKey(prefix: string, topic: string, dedupId: string): string {
  return `${streamKey(prefix, topic)}:dedup:${dedupId}`;
}

export function delayedKey(prefix: string, topic: string, group: string): string {
  return `${streamKey(prefix, topic)}:delayed:${group}`;
}
