import { BusError } from './port.js';

/** Which stored stream a subject belongs to, by its number of tokens (src/messaging/port.ts). */
export type StreamKind = 'events' | 'messages';

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const PATTERN_TOKEN = /^(\*|[A-Za-z0-9_-]{1,128})$/;

export const STREAM_TOKENS: Readonly<Record<StreamKind, number>> = { events: 5, messages: 4 };

/** `bo.<tenant>.<module>.<entity>.<EventType>`. */
export const eventSubject = (root: string, tenant: string, module: string, entity: string, type: string) =>
  `${root}.${tenant}.${module}.${entity}.${type}`;

/** `bo.<tenant>.commands.<module>.<entity>.<command>`. */
export const commandSubject = (root: string, tenant: string, module: string, entity: string, command: string) =>
  `${root}.${tenant}.commands.${module}.${entity}.${command}`;

/** `bo.<tenant>.<kind>.<name>`, a stored message such as a routed message (`routed`) or a dead letter (`deadletter`). */
export const messageSubject = (root: string, tenant: string, kind: string, name: string) => `${root}.${tenant}.${kind}.${name}`;

/** `bo.<tenant>.notices.<source>.<name>.<topic>`: a notice (`Bus.notify`), never stored. */
export const noticeSubject = (root: string, tenant: string, source: string, name: string, topic: string) =>
  `${root}.${tenant}.notices.${source}.${name}.${topic}`;

/** Throws `invalid` unless the subject is a notice's: under the root, plain tokens, outside both stored streams. */
export function checkNoticeSubject(root: string, subject: string): void {
  const tokens = subject.split('.');
  const plain = tokens[0] === root && tokens.length > 1 && tokens.slice(1).every(isToken);
  if (!plain || streamOf(root, subject))
    throw new BusError('invalid', `${subject} is not a notice subject under ${root} (a stored stream holds it, or a token is not plain)`);
}

/** True when every token is a plain token (letters, digits, `_`, `-`). */
export const isToken = (token: string) => TOKEN.test(token);

/** The stream a subject or a consumer's pattern falls in, or undefined when it is outside both. */
export function streamOf(root: string, subject: string, allowWildcards = false): StreamKind | undefined {
  const tokens = subject.split('.');
  if (tokens[0] !== root) return undefined;
  const rest = tokens.slice(1);
  if (!rest.every((token) => (allowWildcards ? PATTERN_TOKEN : TOKEN).test(token))) return undefined;
  if (tokens.length === STREAM_TOKENS.events) return 'events';
  if (tokens.length === STREAM_TOKENS.messages) return 'messages';
  return undefined;
}

/** The stream of a consumer's pattern; throws `invalid` when it is not within one stream. */
export function consumerStream(root: string, pattern: string): StreamKind {
  const kind = streamOf(root, pattern, true);
  if (!kind) throw new BusError('invalid', `Subject pattern "${pattern}" is not within the ${root} events or messages stream`);
  return kind;
}

/**
 * NATS subject matching: `*` matches one token, a final `>` one or more tokens.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const expected = pattern.split('.');
  const actual = subject.split('.');
  for (let index = 0; index < expected.length; index++) {
    const token = expected[index];
    if (token === '>') return index === expected.length - 1 && actual.length > index;
    if (index >= actual.length) return false;
    if (token !== '*' && token !== actual[index]) return false;
  }
  return expected.length === actual.length;
}

/** Durable consumer names: letters, digits, `_` and `-` (NATS refuses `.`, `*`, `>` and spaces). */
export function consumerName(...parts: string[]): string {
  return parts.map((part) => part.replace(/[^A-Za-z0-9_-]/g, '_')).join('_');
}

/** The stored stream's name on the broker: `<ROOT>_EVENTS` or `<ROOT>_MESSAGES` (`bo` → `BO_EVENTS`). */
export function streamName(root: string, kind: StreamKind): string {
  return `${root.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_${kind.toUpperCase()}`;
}

/** The subjects a stored stream holds: `<root>.*.*.*.*` (events) or `<root>.*.*.*` (messages). */
export function streamSubjects(root: string, kind: StreamKind): string {
  return [root, ...Array<string>(STREAM_TOKENS[kind] - 1).fill('*')].join('.');
}
