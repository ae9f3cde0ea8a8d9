/**
 * How Floodgate topics and groups map onto JetStream names.
 *
 * A topic becomes one subject token path (`<subjectPrefix>.orders.requested`), so topic names must
 * be valid subject tokens joined by dots: no empty token, no wildcard, no whitespace. Stream and
 * consumer names may not contain dots at all (they appear as single tokens in API subjects and as
 * directory names in the server's store), so dots are written as `~`, a character topics and
 * groups cannot contain: the mapping stays one-to-one and readable (`FLOODGATE_orders~requested`).
 */
const TOPIC = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const GROUP = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 200;
/** Stream prefixes end up in directory names and API subjects, subject prefixes in subjects. */
const STREAM_PREFIX = /^[A-Za-z0-9_-]*$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function assertTopicName(topic: string): void {
  if (topic.length > MAX_NAME_LENGTH || !TOPIC.test(topic)) {
    throw new TypeError(
      `Invalid topic name ${JSON.stringify(topic)}: use up to ${MAX_NAME_LENGTH} letters, digits, "_" or "-", ` +
        'in dot-separated parts (no empty part, no leading or trailing ".")',
    );
  }
}

export function assertGroupName(group: string): void {
  if (group.length > MAX_NAME_LENGTH || !GROUP.test(group)) {
    throw new TypeError(
      `Invalid consumer group name ${JSON.stringify(group)}: use up to ${MAX_NAME_LENGTH} letters, digits, ` +
        '"_" or "-", in dot-separated parts',
    );
  }
}

export function assertPrefixes(streamPrefix: string, subjectPrefix: string): void {
  if (!STREAM_PREFIX.test(streamPrefix)) {
    throw new TypeError(`Invalid JetStream stream prefix ${JSON.stringify(streamPrefix)}`);
  }
  if (!SUBJECT_PREFIX.test(subjectPrefix)) {
    throw new TypeError(`Invalid JetStream subject prefix ${JSON.stringify(subjectPrefix)}`);
  }
}

/** Dots are not allowed in JetStream stream or consumer names. */
export function toJetStreamName(name: string): string {
  return name.replaceAll(".", "~");
}

export function fromJetStreamName(name: string): string {
  return name.replaceAll("~", ".");
}

export interface TopicNames {
  readonly topic: string;
  readonly stream: string;
  readonly subject: string;
}

export function topicNames(topic: string, streamPrefix: string, subjectPrefix: string): TopicNames {
  assertTopicName(topic);
  return {
    topic,
    stream: `${streamPrefix}${toJetStreamName(topic)}`,
    subject: `${subjectPrefix}.${topic}`,
  };
}
