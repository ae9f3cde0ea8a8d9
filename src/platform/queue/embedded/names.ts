/**
 * Topic and group names become file and directory names, so they are restricted to a portable,
 * traversal-free alphabet instead of being escaped (escaped names would be unreadable in `ls`
 * during an incident). Dots are allowed inside names for `<topic>.dead`.
 */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;

export function assertTopicName(topic: string): void {
  if (!SAFE_NAME.test(topic) || topic === "LOCK" || topic.startsWith("LOCK.")) {
    throw new TypeError(
      `Invalid topic name ${JSON.stringify(topic)}: use 1-200 letters, digits, "_", "-" or ".", ` +
        'not starting with "." or "-" (and not "LOCK", the lock file)',
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
